"""Apps of the Invoke API tests, the servers that run them, and boto3 Lambda clients for those servers."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config


def _load_live_server() -> Any:
    # The server helpers live in tests/server; load them by path, as `tests` is not a package.
    if "live_server" in sys.modules:
        return sys.modules["live_server"]
    path = Path(__file__).resolve().parents[1] / "server" / "live_server.py"
    spec = importlib.util.spec_from_file_location("live_server", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["live_server"] = module
    spec.loader.exec_module(module)
    return module


live_server = _load_live_server()
APPS = Path(__file__).resolve().parent / "apps"


@dataclass(frozen=True)
class LiveApp:
    """A running server and the folder (a copy) it serves."""

    server: Any
    folder: Path

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    @property
    def task_root(self) -> Path:
        """The copy of the folder that a deploy made under the data folder, which instances import from."""
        copies = [path for path in (self.server.data / "code").iterdir() if not path.name.startswith(".")]
        if len(copies) != 1:
            raise AssertionError(f"expected one code copy under {self.server.data / 'code'}, found {copies}")
        return copies[0]


def lambda_client(endpoint: str) -> Any:
    """Build a boto3 Lambda client for a Squall endpoint; it never retries, so every error shows."""
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 0}, read_timeout=30, connect_timeout=5),
    )
