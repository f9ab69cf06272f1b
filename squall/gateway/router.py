"""Route selection for HTTP requests, following API Gateway's rules.

API Gateway picks the most specific route for a request (HTTP API developer
guide, "Routing API requests"):

1. a route whose every segment matches, with literal segments preferred to
   `{param}` segments from left to right;
2. otherwise a route ending in a greedy `{proxy+}` variable, the one with the
   longest matching prefix first;
3. for the same path template, a route of the request's method before `ANY`;
4. last, the `$default` route, for any method and path.

A route whose method does not fit the request is skipped, so a more general
template of the right method can still match. Routes match the decoded
path. An HTTP API route's path parameters are percent-decoded, and a REST
route's (payload 1.0) stay as the client encoded them, as each API passes
them to the integration.

A REST route with a stage also matches under "/STAGE/...", as its invoke URL
does. Such a staged match beats a match that only a greedy route made, but not
a route that matches every segment of the path as requested. An HTTP API
route with a named stage (not "$default") matches only under "/STAGE/...",
because such an API serves nothing at the root of its invoke URL.

A route whose API has a CORS configuration carries it, with the allowed
methods filled in where the manifest left them to the Serverless Framework
or SAM. A REST path with such a route also gets an OPTIONS route that
needs no function: the mock method those tools add, which responds to
preflight requests. An explicit OPTIONS route of a function takes its place.

Paths that the gateway serves itself (GET /metrics, /ui, /_squall and
/2015-03-31) cannot be routed to a function, because the gateway never
consults the routes for them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import unquote

from squall.errors import SquallError
from squall.manifest.spec import DEFAULT_ROUTE, HTTP_METHODS, PAYLOAD_VERSIONS, ApiType, CorsConfig, HttpEvent

logger = logging.getLogger(__name__)

ANY_METHOD = "ANY"

# First path segments the gateway serves itself before it consults the routes
# (squall/gateway/app.py), with what serves them.
RESERVED_SEGMENTS: dict[str, str] = {
    "_squall": "Squall's management, services and objects APIs",
    "2015-03-31": "the Lambda Invoke API",
    "2024-08-31": "the Lambda API's recursion settings",
    "ui": "the dashboard",
}
# Prometheus's default scrape path. The gateway serves only GET there.
METRICS_PATH = "/metrics"
RESERVED_PATHS_TEXT = "GET /metrics, and /ui, /_squall, /2015-03-31, /2024-08-31 and every path under them"


def route_warnings(routes: Iterable[tuple[str, HttpEvent]]) -> list[str]:
    """Describe what a service's routes cannot get although they look as if they would, one line each.

    A greedy route at the root, a route whose first segment is a variable, or
    a $default route never gets the paths the gateway serves itself. A $default route never gets a request when an
    ANY route ending in a greedy variable at the root of the same stage takes every path.
    """
    warnings: list[str] = []
    catch_alls: dict[str | None, str] = {}  # by stage: an ANY /{proxy+} route
    defaults: dict[str | None, str] = {}
    for function, event in routes:
        # An HTTP API route with a stage is served only under it, never at the gateway's own paths.
        staged_only = event.api is ApiType.HTTP and event.stage is not None
        if event.path == DEFAULT_ROUTE:
            defaults[event.stage if staged_only else None] = function
            description = f"the {DEFAULT_ROUTE} route of function {function!r}"
        elif event.path.count("/") == 1 and event.path.endswith("+}"):
            description = f"route {event.method} {event.path} of function {function!r}"
            if event.method.upper() == ANY_METHOD:
                catch_alls[event.stage if staged_only else None] = description
        elif event.path.startswith("/{"):
            # A variable first segment, such as /{page}, also matches /ui and /metrics.
            description = f"route {event.method} {event.path} of function {function!r}"
        else:
            continue
        if not staged_only:
            warnings.append(f"{description} does not get {RESERVED_PATHS_TEXT}: Squall serves those itself")
    for stage, function in defaults.items():
        if stage in catch_alls:
            warnings.append(
                f"the {DEFAULT_ROUTE} route of function {function!r} is never called: {catch_alls[stage]} "
                "takes every path first"
            )
    return warnings


class RouteError(SquallError):
    """Raised when an HTTP route is invalid or clashes with another route.

    `function` is the function that declares the route, `path` its template.
    """

    def __init__(self, function: str, path: str, message: str, other_function: str | None = None) -> None:
        self.function = function
        self.path = path
        self.other_function = other_function  # the function of the route it clashes with, if any
        super().__init__(f"function {function!r}: http route {path!r}: {message}")


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """The route chosen for a request and the values taken from its path.

    `route_key` is the HTTP API route key ("GET /hello/{name}"), `resource`
    the path template ("/hello/{name}"), and `path_parameters` the decoded
    variable values, or None when the template has no variables.
    """

    function: str
    event: HttpEvent
    route_key: str
    resource: str
    path_parameters: dict[str, str] | None
    # The request path without its REST stage ("/prod/items" -> "/items"),
    # when the request named the stage as an API Gateway invoke URL does.
    staged_path: str | None = None
    # The CORS configuration the gateway applies: an HTTP API route's, or a
    # REST preflight route's. None for other routes, REST routes included,
    # whose functions set their own CORS headers.
    cors: CorsConfig | None = None
    # Whether the route is a REST API's OPTIONS mock method, whose response
    # the gateway builds from `cors` without calling `function`.
    preflight: bool = False


@dataclass(frozen=True, slots=True)
class _Route:
    function: str
    event: HttpEvent
    route_key: str
    param_names: tuple[str, ...]  # one per variable segment, greedy last
    greedy: bool
    param_positions: tuple[int, ...] = ()  # the index of each variable segment in the path
    cors: CorsConfig | None = None  # as RouteMatch.cors
    preflight: bool = False  # as RouteMatch.preflight


@dataclass(slots=True)
class _Node:
    """One level of the segment tree; `routes` maps a method to its route."""

    literal: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None
    routes: dict[str, _Route] = field(default_factory=dict)
    greedy_routes: dict[str, _Route] = field(default_factory=dict)


def _pick(routes: dict[str, _Route], method: str) -> _Route | None:
    route = routes.get(method)
    if route is None:
        route = routes.get(ANY_METHOD)
    return route


def _raw_values(route: _Route, raw_path: str) -> list[str]:
    """Return a matched route's path parameter values as they are in the request path, still percent-encoded."""
    segments = raw_path[1:].removesuffix("/").split("/")
    values = [segments[index] for index in route.param_positions]
    if route.greedy:
        values[-1] = "/".join(segments[route.param_positions[-1]:])
    return values


def _to_match(route: _Route, values: list[str] | None, staged_path: str | None = None) -> RouteMatch:
    parameters = dict(zip(route.param_names, values)) if values is not None else None
    return RouteMatch(
        route.function, route.event, route.route_key, route.event.path, parameters, staged_path, route.cors,
        route.preflight,
    )


def _parse_template(function: str, template: str) -> tuple[list[str | None], list[str], bool]:
    """Split a template into segments: a literal string, or None for a variable."""
    if not template.startswith("/"):
        raise RouteError(function, template, "expected a path starting with '/', such as '/hello/{name}'")

    raw_segments = template[1:].split("/") if template != "/" else []
    segments: list[str | None] = []
    names: list[str] = []
    greedy = False
    for position, segment in enumerate(raw_segments):
        if segment.startswith("{") and segment.endswith("}"):
            name = segment[1:-1]
            if name.endswith("+"):
                if position != len(raw_segments) - 1:
                    raise RouteError(
                        function, template, f"greedy variable {segment!r} must be the last segment of the path"
                    )
                name = name[:-1]
                greedy = True
            if not name or "{" in name or "}" in name or "+" in name:
                raise RouteError(
                    function, template, f"invalid path variable {segment!r}: expected '{{name}}' or '{{name+}}'"
                )
            if name in names:
                raise RouteError(function, template, f"path variable {name!r} appears more than once")
            names.append(name)
            segments.append(None)
        elif "{" in segment or "}" in segment:
            raise RouteError(
                function, template, f"invalid segment {segment!r}: a variable must fill a whole segment, as in '/{{name}}'"
            )
        elif not segment:
            raise RouteError(function, template, "empty path segment: remove the doubled or trailing '/'")
        else:
            segments.append(segment)
    return segments, names, greedy


def _reserved_by(method: str, segments: list[str | None]) -> str | None:
    """Return what the gateway serves at a template's leading literal path, or None when it serves nothing there."""
    if not segments or segments[0] is None:
        return None
    owner = RESERVED_SEGMENTS.get(segments[0])
    if owner is not None:
        return owner
    if segments == [METRICS_PATH[1:]] and method in ("GET", ANY_METHOD):
        return "the Prometheus metrics endpoint"
    return None


def reserved_route_problem(event: HttpEvent) -> str | None:
    """Explain why the gateway would respond to a route's requests itself, or return None when they reach the function.

    Manifest readers call this to list a reserved route with a manifest's
    other mistakes. An invalid template returns None, because Router reports it.
    """
    if event.path == DEFAULT_ROUTE:
        return None
    try:
        segments, _, _ = _parse_template("", event.path)
    except RouteError:
        return None
    return _reserved_problem(event, event.method.upper(), segments)


def _check_not_reserved(function: str, event: HttpEvent, method: str, segments: list[str | None]) -> None:
    """Raise RouteError when the gateway would respond to the route's requests itself, never calling the function."""
    problem = _reserved_problem(event, method, segments)
    if problem is not None:
        raise RouteError(function, event.path, problem)


def _reserved_problem(event: HttpEvent, method: str, segments: list[str | None]) -> str | None:
    owner = _reserved_by(method, segments)
    if owner is not None:
        return (
            f"{method} {event.path} is served by {owner}, so the function would never be called; "
            f"expected a path outside the ones Squall reserves ({RESERVED_PATHS_TEXT}). "
            "A greedy route such as ANY /{proxy+} may still take every other path"
        )

    # A REST route is also requested under its stage, as "/STAGE/...".
    if event.stage is not None:
        owner = _reserved_by(method, [event.stage, *segments])
        if owner is not None:
            staged = f"/{event.stage}{event.path}" if event.path != "/" else f"/{event.stage}"
            return (
                f"with stage {event.stage!r}, {method} {staged} is served by {owner}, so the function would never "
                f"be called there; expected another stage name, outside the paths Squall reserves ({RESERVED_PATHS_TEXT})"
            )
    return None


class Router:
    """Route table that chooses the function for each HTTP request.

    Fully literal templates are looked up in one dict. The others live in a
    tree of path segments, searched literal-first with backtracking, so the
    time to match grows with the depth of the path, not the number of routes.
    """

    def __init__(self, routes: Iterable[tuple[str, HttpEvent]], *, all_of_stage: bool = False) -> None:
        # Literal path -> {method: route}; the common case costs one dict lookup.
        self._literal: dict[str, dict[str, _Route]] = {}
        self._root = _Node()
        self._apis: set[ApiType] = set()
        self._stages: set[str] = set()  # stages of REST routes and named HTTP API stages, which may lead a request path
        self._default: RouteMatch | None = None  # the $default route's match, the same for every request
        seen: dict[tuple[str, tuple[str | None, ...], bool], tuple[str, str]] = {}
        routes = list(routes)
        staged_only: list[tuple[str, HttpEvent]] = []
        table: list[tuple[str, HttpEvent]] = []
        for function, event in routes:
            if event.stage is not None and event.api is ApiType.HTTP and not all_of_stage:
                self._stages.add(event.stage)  # served only in its stage's table
                staged_only.append((function, event))
            else:
                table.append((function, event))
        # HTTP API configurations as the manifest gave them -> with their allowed methods filled in.
        self._http_api_cors = _fill_http_api_methods(routes)
        for function, event in table:
            self._add(function, event, seen)
        self._add_rest_preflights(table, seen)
        # The one CORS configuration that every HTTP API route of this table
        # shares. It responds to preflight requests for paths without a route.
        shared = {self._route_cors(event) for _, event in table if event.api is ApiType.HTTP}
        self._shared_http_api_cors = shared.pop() if len(shared) == 1 else None
        for function, event in staged_only:
            self._check_not_hidden(function, event)
        # Under "/STAGE/..." only the routes of that stage compete, in a table of their own.
        self._by_stage: dict[str, Router] = {}
        if not all_of_stage:
            for stage in self._stages:
                staged = [(function, event) for function, event in routes if event.stage == stage]
                self._by_stage[stage] = Router(staged, all_of_stage=True)

    def _check_not_hidden(self, function: str, event: HttpEvent) -> None:
        """Raise RouteError when a route at the root takes the requests an HTTP API route gets under its stage.

        A root route that matches "/STAGE/..." in full wins over the staged
        one (see match), which would then never be called.
        """
        if event.path == DEFAULT_ROUTE:
            return
        # A request the staged route matches: each variable filled with one segment.
        sample = "/".join("_" if segment.startswith("{") else segment for segment in event.path.split("/"))
        staged = f"/{event.stage}{sample}" if sample != "/" else f"/{event.stage}"
        method = event.method.upper()
        found = self._find("GET" if method == ANY_METHOD else method, staged)
        if found is not None and not found[0].greedy:
            route = found[0]
            raise RouteError(
                function, event.path,
                f"{method} under stage {event.stage!r} is also matched by the route {route.route_key} of function "
                f"{route.function!r}, which takes {staged} first; change one of the paths",
                route.function,
            )

    def _route_cors(self, event: HttpEvent) -> CorsConfig | None:
        """Return the CORS configuration the gateway applies to a route's requests: an HTTP API route's, filled in."""
        if event.api is not ApiType.HTTP or event.cors is None:
            return None
        return self._http_api_cors[event.cors]

    @property
    def has_http_api_cors(self) -> bool:
        """Whether some HTTP API route has a CORS configuration, so that the gateway responds to preflight requests."""
        return bool(self._http_api_cors)

    def http_api_preflight(self, requested_method: str, raw_path: str) -> CorsConfig | None:
        """Return the CORS configuration of the HTTP API that responds to a preflight request, or None when none does.

        That is the configuration of the route the requested method would
        reach, else of another route at the path. For a path without routes
        it is the one every HTTP API route shares, because an HTTP API
        responds to preflight requests for any path. A REST route's path returns None:
        its OPTIONS requests go to its OPTIONS route.
        """
        match = self.match(requested_method, raw_path)
        if match is None:
            for method in HTTP_METHODS:
                if method != ANY_METHOD and method != requested_method:
                    match = self.match(method, raw_path)
                    if match is not None:
                        break
        if match is None:
            return self._shared_http_api_cors
        return match.cors if match.event.api is ApiType.HTTP else None

    def _add_rest_preflights(
        self,
        routes: list[tuple[str, HttpEvent]],
        seen: dict[tuple[str, tuple[str | None, ...], bool], tuple[str, str]],
    ) -> None:
        """Add the OPTIONS mock route of each REST path that has a route with CORS, unless it has an OPTIONS route."""
        by_path: dict[tuple[str | None, str], list[tuple[str, HttpEvent]]] = {}
        for function, event in routes:
            if event.api is ApiType.REST and event.path != DEFAULT_ROUTE:
                by_path.setdefault((event.stage, event.path), []).append((function, event))
        for (stage, path), path_routes in by_path.items():
            configs = [event.cors for _, event in path_routes if event.cors is not None]
            if not configs:
                continue
            cors = _merge_rest_cors(configs, [event.method.upper() for _, event in path_routes])
            mock = HttpEvent(method="OPTIONS", path=path, payload="1.0", stage=stage, api=ApiType.REST, cors=cors)
            self._add(path_routes[0][0], mock, seen, preflight=True)

    def _add(
        self,
        function: str,
        event: HttpEvent,
        seen: dict[tuple[str, tuple[str | None, ...], bool], tuple[str, str]],
        preflight: bool = False,
    ) -> None:
        method = event.method.upper()
        if method not in HTTP_METHODS:
            raise RouteError(function, event.path, f"invalid method {event.method!r}: expected one of {', '.join(HTTP_METHODS)}")
        if event.payload not in PAYLOAD_VERSIONS:
            raise RouteError(
                function, event.path, f"invalid payload version {event.payload!r}: expected one of {', '.join(PAYLOAD_VERSIONS)}"
            )
        if event.path == DEFAULT_ROUTE:
            self._add_default(function, event)
            return
        segments, names, greedy = _parse_template(function, event.path)
        _check_not_reserved(function, event, method, segments)

        # Templates that differ only in variable names match the same requests.
        shape = (method, tuple(segments), greedy)
        if preflight and shape in seen:
            return  # a function's OPTIONS route replaces the mock method
        if shape in seen:
            other, description = seen[shape]
            raise RouteError(
                function, event.path, f"{method} clashes with the route {description}: both match the same requests",
                other,
            )
        seen[shape] = (function, f"{method} {event.path} of function {function!r}")

        route = _Route(
            function=function,
            event=event,
            route_key=f"{method} {event.path}",
            param_names=tuple(names),
            greedy=greedy,
            param_positions=tuple(index for index, segment in enumerate(segments) if segment is None),
            cors=event.cors if preflight else self._route_cors(event),
            preflight=preflight,
        )
        self._apis.add(event.api)
        if event.stage is not None:
            self._stages.add(event.stage)

        if not names:
            self._literal.setdefault(event.path, {})[method] = route
            return

        node = self._root
        body = segments[:-1] if greedy else segments
        for segment in body:
            if segment is None:
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                node = node.literal.setdefault(segment, _Node())
        if greedy:
            node.greedy_routes[method] = route
        else:
            node.routes[method] = route

    def _add_default(self, function: str, event: HttpEvent) -> None:
        if self._default is not None:
            other = self._default.function
            raise RouteError(
                function, event.path,
                f"clashes with the {DEFAULT_ROUTE} route of function {other!r}: an API has one default route", other,
            )
        # The default route's event has no path parameters and names the route "$default".
        self._default = RouteMatch(
            function, event, DEFAULT_ROUTE, DEFAULT_ROUTE, None, cors=self._route_cors(event)
        )
        self._apis.add(event.api)

    @property
    def default_api(self) -> ApiType:
        """Return the API type whose error responses suit a request no route matches.

        A REST API when every route belongs to one, otherwise an HTTP API.
        """
        return ApiType.REST if self._apis == {ApiType.REST} else ApiType.HTTP

    def unmatched_api(self, raw_path: str) -> ApiType:
        """Return the API type whose "not found" response suits a request no route matched.

        In a service with both types of API, the API a request was meant for
        is the one whose route has this path under another method, or the
        REST API when the path starts with one of its stages.
        """
        for method in HTTP_METHODS:
            if method == ANY_METHOD:
                continue
            match = self.match(method, raw_path)
            if match is not None:
                return match.event.api
        staged = self._by_stage.get(raw_path[1:].partition("/")[0])
        if staged is not None:
            return staged.default_api
        return self.default_api

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        """Return the route for a request, or None when no route fits.

        `raw_path` is the request path still percent-encoded, as in the ASGI
        scope's `raw_path` decoded as Latin-1: an encoded "/" ("%2F") then
        stays inside one path parameter instead of splitting it. A REST route
        with a stage also matches under "/STAGE", as its invoke URL does, and
        that match wins over one that only a greedy route made. The $default
        route, if any, takes what no other route matches.
        """
        found = self._find(method, raw_path)
        if self._stages and (found is None or found[0].greedy):
            staged = self._find_staged(method, raw_path)
            if staged is not None:
                return staged
        if found is not None:
            return _to_match(*found)
        return self._default

    def _find_staged(self, method: str, raw_path: str) -> RouteMatch | None:
        """Match the path after a leading stage against the routes of that stage."""
        stage, _, rest = raw_path[1:].partition("/")
        routes = self._by_stage.get(stage)
        if routes is None:
            return None
        inner = "/" + rest
        found = routes._find(method, inner)
        if found is None:
            # An HTTP API with a named stage may have a $default route of its own.
            return routes._default
        return _to_match(*found, staged_path=inner)

    def _find(self, method: str, raw_path: str) -> tuple[_Route, list[str] | None] | None:
        """Return the best route for a path and its path parameter values (None for a literal route)."""
        routes = self._literal.get(raw_path)
        if routes is not None:
            route = _pick(routes, method)
            if route is not None:
                return route, None

        segments = self._segments(raw_path)
        if segments is None:
            return None

        # API Gateway ignores one trailing slash: "/pets/" is routed as "/pets".
        # A decoded "/" inside a segment must not turn it into two literal segments.
        literal_path = "/" + "/".join(segments)
        if literal_path != raw_path and not any("/" in segment for segment in segments):
            routes = self._literal.get(literal_path)
            if routes is not None:
                route = _pick(routes, method)
                if route is not None:
                    return route, None

        values: list[str] = []
        route = self._search_full(self._root, segments, 0, method, values)
        if route is None:
            route = self._search_greedy(self._root, segments, 0, method, values)
        if route is None:
            return None
        if route.event.api is ApiType.REST and "%" in raw_path:
            # A REST API passes path parameters as the client encoded them;
            # only an HTTP API decodes them.
            values = _raw_values(route, raw_path)
        return route, values

    def allowed_methods(self, raw_path: str) -> frozenset[str]:
        """Return the methods some route accepts for this path ("ANY" included as such)."""
        methods: set[str] = set()
        for method in HTTP_METHODS:
            if method == ANY_METHOD:
                continue
            match = self.match(method, raw_path)
            if match is not None:
                methods.add(match.event.method.upper())
        return frozenset(methods)

    @staticmethod
    def _segments(raw_path: str) -> list[str] | None:
        """Split a request path into decoded segments, or None if it cannot match."""
        if not raw_path.startswith("/"):
            return None
        path = raw_path[1:]
        if path.endswith("/"):
            path = path[:-1]
        if not path:
            return []
        segments = path.split("/")
        if "%" in path:
            segments = [unquote(segment) if "%" in segment else segment for segment in segments]
        return segments

    def _search_full(
        self, node: _Node, segments: list[str], index: int, method: str, values: list[str]
    ) -> _Route | None:
        """Find a route matching every segment, literal segments first (no greedy variables)."""
        if index == len(segments):
            return _pick(node.routes, method) if node.routes else None

        segment = segments[index]
        child = node.literal.get(segment)
        if child is not None:
            route = self._search_full(child, segments, index + 1, method, values)
            if route is not None:
                return route

        if node.param is not None and segment:
            values.append(segment)
            route = self._search_full(node.param, segments, index + 1, method, values)
            if route is not None:
                return route
            values.pop()
        return None

    def _search_greedy(
        self, node: _Node, segments: list[str], index: int, method: str, values: list[str]
    ) -> _Route | None:
        """Find a route ending in a greedy variable, preferring the longest prefix."""
        if index < len(segments):
            segment = segments[index]
            child = node.literal.get(segment)
            if child is not None:
                route = self._search_greedy(child, segments, index + 1, method, values)
                if route is not None:
                    return route

            if node.param is not None and segment:
                values.append(segment)
                route = self._search_greedy(node.param, segments, index + 1, method, values)
                if route is not None:
                    return route
                values.pop()

            # A greedy variable takes one or more remaining segments.
            if node.greedy_routes:
                route = _pick(node.greedy_routes, method)
                if route is not None:
                    values.append("/".join(segments[index:]))
                    return route
        return None


# The methods a preflight response allows for an ANY route, in the order SAM
# sorts them. The Serverless Framework lists the same ones.
_ALL_CORS_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _fill_http_api_methods(routes: list[tuple[str, HttpEvent]]) -> dict[CorsConfig | None, CorsConfig]:
    """Map each HTTP API route's CORS configuration to itself with its allowed methods filled in.

    A configuration without allowed methods (None) gets OPTIONS and the
    methods of every HTTP API route that has it, all methods for ANY, as the
    Serverless Framework fills in `httpApi.cors`.
    """
    methods: dict[CorsConfig, list[str]] = {}
    for _, event in routes:
        cors = event.cors
        if cors is None or event.api is not ApiType.HTTP or cors.allow_methods is not None:
            continue
        allowed = methods.setdefault(cors, ["OPTIONS"])
        method = event.method.upper()
        for name in _ALL_CORS_METHODS if method == ANY_METHOD else (method,):
            if name not in allowed:
                allowed.append(name)
    filled: dict[CorsConfig | None, CorsConfig] = {}
    for _, event in routes:
        cors = event.cors
        if cors is not None and event.api is ApiType.HTTP and cors not in filled:
            allowed = methods.get(cors)
            filled[cors] = cors if allowed is None else replace(cors, allow_methods=tuple(allowed))
    return filled


def _merge_rest_cors(configs: list[CorsConfig], path_methods: list[str]) -> CorsConfig:
    """Merge the CORS settings of a REST path's routes into the one configuration of its OPTIONS mock method.

    As the Serverless Framework merges them: lists are joined without
    repeats, credentials are allowed when one route allows them, and the
    last max age and Cache-Control win. Allowed methods left to SAM (None)
    are OPTIONS and the path's methods, sorted, and every method for ANY.
    An ANY among given methods stands for every method.
    NOTE: the Framework sends a route's single `origin` only when no route
    of the path lists `origins`; Squall lists both kinds together.
    """
    origins: list[str] = []
    headers: list[str] = []
    methods: list[str] | None = []
    max_age_s: int | None = None
    cache_control: str | None = None
    for cors in configs:
        origins += [origin for origin in cors.allow_origins if origin not in origins]
        headers += [header for header in cors.allow_headers if header not in headers]
        if cors.allow_methods is None:
            methods = None
        elif methods is not None:
            methods += [method for method in cors.allow_methods if method not in methods]
        if cors.max_age_s is not None:
            max_age_s = cors.max_age_s
        if cors.cache_control is not None:
            cache_control = cors.cache_control

    if methods is None:
        names = set(path_methods)
        filled = _ALL_CORS_METHODS if ANY_METHOD in names else tuple(sorted(names | {"OPTIONS"}))
    else:
        filled = ()
        for method in methods:
            for name in _ALL_CORS_METHODS if method == ANY_METHOD else (method,):
                if name not in filled:
                    filled += (name,)
    return CorsConfig(
        allow_origins=tuple(origins),
        allow_headers=tuple(headers),
        allow_methods=filled,
        allow_credentials=any(cors.allow_credentials for cors in configs),
        max_age_s=max_age_s,
        cache_control=cache_control,
    )
