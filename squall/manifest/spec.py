"""The internal specification every manifest format translates to."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MEMORY_MB = 128
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10240
DEFAULT_TIMEOUT_S = 3
MAX_TIMEOUT_S = 900
DEFAULT_KEEP_ALIVE_S = 600
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
PAYLOAD_VERSIONS = ("1.0", "2.0")


@dataclass(frozen=True)
class HttpEvent:
    """One HTTP route that invokes a function.

    `path` uses API Gateway's template syntax ("/hello/{name}", "/v1/{proxy+}");
    `method` is one of HTTP_METHODS; `payload` is the API Gateway payload
    format version: "2.0" for an HTTP API, "1.0" for a REST API proxy.
    """

    method: str
    path: str
    payload: str = "2.0"


@dataclass(frozen=True)
class FunctionSpec:
    """One function of a service, with every default already applied."""

    name: str
    handler: str  # "module.function"; the module may be a dotted or slashed path
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_s: int = DEFAULT_TIMEOUT_S
    environment: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None  # None: no cap but the node's memory budget
    provisioned: int = 0  # instances kept initialised at all times
    keep_alive_s: int = DEFAULT_KEEP_ALIVE_S  # idle time before an instance is reaped
    max_queue: int | None = None  # calls waiting at the cap; None: the dispatcher's default
    http: tuple[HttpEvent, ...] = ()
    runtime: str = "python3"

    @property
    def module(self) -> str:
        """The importable module name of the handler ("src/app.greet" -> "src.app")."""
        return self.handler.rsplit(".", 1)[0].replace("/", ".")

    @property
    def attribute(self) -> str:
        """The handler's function name inside its module."""
        return self.handler.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class ServiceSpec:
    """A whole deployable folder: its functions and where its code lives."""

    service: str
    root: Path  # folder handler modules are imported from
    manifest_path: Path
    functions: dict[str, FunctionSpec]
    warnings: tuple[str, ...] = ()  # keys that were read but are not understood yet
