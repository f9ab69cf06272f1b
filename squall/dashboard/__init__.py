"""The web dashboard served at `/ui`: functions, their charts and logs, queues and streams."""

from __future__ import annotations

from squall.dashboard.handler import Dashboard, serve_dashboard
from squall.dashboard.signin import serve_with_sign_in

__all__ = ["Dashboard", "serve_dashboard", "serve_with_sign_in"]
