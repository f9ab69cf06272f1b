"""The warnings a service gets from its own files, which the deploy logs and `squall plan` prints alike."""

from __future__ import annotations

from squall.deploy.requirements import unread_dependency_warnings
from squall.deploy.syntax import runtime_warnings, syntax_warnings
from squall.events.filters import queue_filter_warnings
from squall.gateway.router import route_warnings
from squall.manifest.spec import ServiceSpec


def service_warnings(service: ServiceSpec) -> list[str]:
    """Return the warnings that need no server: code that does not compile, runtimes, routes, dependencies, filters.

    Blocking, because it reads the service's files: run it on a worker thread in the server.
    """
    routes = ((spec.name, event) for spec in service.functions.values() for event in spec.http)
    handlers = {spec.name: (spec.handler_path, spec.code_dir) for spec in service.functions.values()}
    return [
        *syntax_warnings(service),
        *runtime_warnings(service),
        *route_warnings(routes),
        *queue_filter_warnings(service),
        *unread_dependency_warnings(service.root, handlers),
    ]
