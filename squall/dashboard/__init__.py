"""The web dashboard served at `/ui`: functions, their charts and logs, queues and streams."""

from __future__ import annotations

from squall.dashboard.handler import Dashboard, serve_dashboard

__all__ = ["Dashboard", "serve_dashboard"]
