"""Route selection: precedence, REST stages, path parameter decoding, and invalid or reserved routes."""

from __future__ import annotations

import pytest

from squall.gateway import invoke_api, management, objects_api, services_api
from squall.gateway.router import METRICS_PATH, RESERVED_SEGMENTS, RouteError, RouteMatch, Router, route_warnings
from squall.manifest.spec import ApiType, HttpEvent

# Each route's function name says which route it is, so a test can name the
# route it expects.
ROUTES = [
    ("get_pets", HttpEvent("GET", "/pets")),
    ("any_pets", HttpEvent("ANY", "/pets")),
    ("get_pet", HttpEvent("GET", "/pets/{id}")),
    ("get_dog", HttpEvent("GET", "/pets/dog/{id}")),
    ("get_pets_proxy", HttpEvent("GET", "/pets/{proxy+}")),
    ("get_pet_toys", HttpEvent("GET", "/pets/{id}/toys")),
    ("get_owner_pet", HttpEvent("GET", "/owners/{owner}/pets/{pet}")),
    ("get_owner_cat", HttpEvent("GET", "/owners/{owner}/pets/cat")),
    ("any_v1_proxy", HttpEvent("ANY", "/v1/{proxy+}", "1.0")),
    ("get_v1_status", HttpEvent("GET", "/v1/status", "1.0")),
    ("any_root_proxy", HttpEvent("ANY", "/{proxy+}")),
    ("get_root", HttpEvent("GET", "/")),
]


@pytest.fixture(scope="module")
def router() -> Router:
    return Router(ROUTES)


@pytest.mark.parametrize(
    ("method", "path", "function"),
    [
        # A full literal match beats every template.
        ("GET", "/pets", "get_pets"),
        ("GET", "/pets/dog/1", "get_dog"),
        ("GET", "/v1/status", "get_v1_status"),
        ("GET", "/", "get_root"),
        # The request's own method beats ANY on the same path.
        ("POST", "/pets", "any_pets"),
        ("DELETE", "/pets", "any_pets"),
        # A full match with variables beats a greedy variable.
        ("GET", "/pets/7", "get_pet"),
        ("GET", "/pets/7/toys", "get_pet_toys"),
        # Literal segments win from left to right.
        ("GET", "/owners/ann/pets/cat", "get_owner_cat"),
        ("GET", "/owners/ann/pets/dog", "get_owner_pet"),
        # A greedy variable with the longer prefix wins.
        ("GET", "/pets/cat/1", "get_pets_proxy"),
        ("GET", "/pets/7/toys/ball", "get_pets_proxy"),
        ("GET", "/v1/users/9", "any_v1_proxy"),
        # A route whose method does not fit is skipped for a more general one.
        ("POST", "/pets/7", "any_root_proxy"),
        ("POST", "/test/5", "any_root_proxy"),
        ("PATCH", "/v1/status", "any_v1_proxy"),
        # One trailing slash is ignored.
        ("GET", "/pets/", "get_pets"),
        ("GET", "/pets/7/", "get_pet"),
    ],
)
def test_match_precedence(router: Router, method: str, path: str, function: str) -> None:
    match = router.match(method, path)

    assert match is not None
    assert match.function == function


@pytest.mark.parametrize(
    ("method", "path", "route_key", "resource", "parameters"),
    [
        ("GET", "/pets", "GET /pets", "/pets", None),
        ("PUT", "/pets", "ANY /pets", "/pets", None),
        ("GET", "/pets/42", "GET /pets/{id}", "/pets/{id}", {"id": "42"}),
        ("GET", "/pets/dog/rex", "GET /pets/dog/{id}", "/pets/dog/{id}", {"id": "rex"}),
        ("GET", "/pets/a/b/c", "GET /pets/{proxy+}", "/pets/{proxy+}", {"proxy": "a/b/c"}),
        ("POST", "/v1/x", "ANY /v1/{proxy+}", "/v1/{proxy+}", {"proxy": "x"}),
        (
            "GET",
            "/owners/ann/pets/tom",
            "GET /owners/{owner}/pets/{pet}",
            "/owners/{owner}/pets/{pet}",
            {"owner": "ann", "pet": "tom"},
        ),
    ],
)
def test_match_fields(
    router: Router,
    method: str,
    path: str,
    route_key: str,
    resource: str,
    parameters: dict[str, str] | None,
) -> None:
    match = router.match(method, path)

    assert isinstance(match, RouteMatch)
    assert match.route_key == route_key
    assert match.resource == resource
    assert match.path_parameters == parameters
    assert match.event.path == resource


@pytest.mark.parametrize(
    ("path", "parameters"),
    [
        ("/pets/Chester%20Mall", {"id": "Chester Mall"}),
        ("/pets/a%2Fb", {"id": "a/b"}),  # an encoded "/" stays inside one parameter
        ("/pets/caf%C3%A9", {"id": "café"}),
        ("/pets/a+b", {"id": "a+b"}),  # "+" means a space only in query strings
        ("/pets/100%25", {"id": "100%"}),
        ("/pets/x%2Fy/z%20w", {"proxy": "x/y/z w"}),
    ],
)
def test_match_decodes_parameters(router: Router, path: str, parameters: dict[str, str]) -> None:
    match = router.match("GET", path)

    assert match is not None
    assert match.path_parameters == parameters


@pytest.mark.parametrize(
    ("path", "parameters"),
    [
        ("/v1/a%2Fb/c%20d", {"proxy": "a%2Fb/c%20d"}),
        ("/v1/%E2%98%83%20x/", {"proxy": "%E2%98%83%20x"}),
        ("/v1/plain/path", {"proxy": "plain/path"}),
    ],
)
def test_rest_route_keeps_parameters_encoded(router: Router, path: str, parameters: dict[str, str]) -> None:
    # A REST API (payload 1.0) passes path parameters as the client encoded them.
    match = router.match("GET", path)

    assert match is not None
    assert match.function == "any_v1_proxy"
    assert match.path_parameters == parameters


def test_staged_rest_parameter_stays_encoded() -> None:
    router = Router([("item", HttpEvent("GET", "/items/{id}", "1.0", stage="dev"))])

    match = router.match("GET", "/dev/items/a%20b")

    assert match is not None
    assert match.path_parameters == {"id": "a%20b"}


def test_match_encoded_literal_path(router: Router) -> None:
    match = router.match("GET", "/p%65ts")

    assert match is not None
    assert match.function == "get_pets"


def test_match_encoded_slash_not_literal() -> None:
    router = Router([("literal", HttpEvent("GET", "/a/b")), ("param", HttpEvent("GET", "/{x}"))])

    match = router.match("GET", "/a%2Fb")

    assert match is not None
    assert match.function == "param"
    assert match.path_parameters == {"x": "a/b"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nothing/here/at/all/v1"),  # only ANY /{proxy+} fits
    ],
)
def test_match_root_greedy_catches_rest(router: Router, method: str, path: str) -> None:
    match = router.match(method, path)

    assert match is not None
    assert match.path_parameters == {"proxy": path[1:]}


@pytest.mark.parametrize(
    ("routes", "method", "path"),
    [
        ([("f", HttpEvent("GET", "/pets"))], "POST", "/pets"),
        ([("f", HttpEvent("GET", "/pets"))], "GET", "/pets/1"),
        ([("f", HttpEvent("GET", "/pets/{id}"))], "GET", "/pets"),
        ([("f", HttpEvent("GET", "/pets/{id}"))], "GET", "/pets//"),
        # A greedy variable needs at least one segment.
        ([("f", HttpEvent("GET", "/files/{path+}"))], "GET", "/files"),
        ([("f", HttpEvent("GET", "/files/{path+}"))], "GET", "/files/"),
        ([("f", HttpEvent("GET", "/pets"))], "GET", "pets"),
        ([], "GET", "/"),
    ],
)
def test_match_none(routes: list[tuple[str, HttpEvent]], method: str, path: str) -> None:
    assert Router(routes).match(method, path) is None


def test_allowed_methods(router: Router) -> None:
    assert router.allowed_methods("/pets/dog/1") == frozenset({"GET", "ANY"})
    assert Router([("f", HttpEvent("POST", "/a"))]).allowed_methods("/a") == frozenset({"POST"})
    assert Router([("f", HttpEvent("POST", "/a"))]).allowed_methods("/b") == frozenset()


@pytest.mark.parametrize(
    ("payloads", "expected"),
    [
        (["1.0"], ApiType.REST),
        (["1.0", "1.0"], ApiType.REST),
        (["2.0"], ApiType.HTTP),
        (["1.0", "2.0"], ApiType.HTTP),
        ([], ApiType.HTTP),
    ],
)
def test_default_api(payloads: list[str], expected: ApiType) -> None:
    routes = [(f"f{index}", HttpEvent("GET", f"/r{index}", payload)) for index, payload in enumerate(payloads)]

    assert Router(routes).default_api == expected


MIXED = Router([
    ("rest", HttpEvent("GET", "/v1/{name}", "1.0")),
    ("staged", HttpEvent("GET", "/items", "1.0", stage="prod")),
    ("http", HttpEvent("POST", "/v2/{name}")),
])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/x", ApiType.REST),  # a REST route has this path under GET
        ("/v2/x", ApiType.HTTP),  # an HTTP API route has it under POST
        ("/prod/nothing", ApiType.REST),  # under a REST stage
        ("/elsewhere", ApiType.HTTP),  # nothing fits: the HTTP API of a mixed service
    ],
)
def test_unmatched_api_in_a_mixed_service(path: str, expected: ApiType) -> None:
    assert MIXED.match("DELETE", path) is None
    assert MIXED.unmatched_api(path) == expected


def test_match_many_routes_picks_right_one() -> None:
    routes = [(f"f{index}", HttpEvent("GET", f"/svc{index}/items/{{id}}")) for index in range(500)]
    routes += [(f"lit{index}", HttpEvent("POST", f"/svc{index}/items")) for index in range(500)]
    router = Router(routes)

    for index in (0, 137, 499):
        match = router.match("GET", f"/svc{index}/items/x{index}")
        assert match is not None
        assert match.function == f"f{index}"
        assert match.path_parameters == {"id": f"x{index}"}
        literal = router.match("POST", f"/svc{index}/items")
        assert literal is not None
        assert literal.function == f"lit{index}"


def test_match_independent_of_route_order() -> None:
    reversed_router = Router(list(reversed(ROUTES)))

    for method, path, function in [
        ("GET", "/pets/7", "get_pet"),
        ("GET", "/pets/cat/1", "get_pets_proxy"),
        ("POST", "/pets", "any_pets"),
        ("GET", "/owners/ann/pets/cat", "get_owner_cat"),
    ]:
        match = reversed_router.match(method, path)
        assert match is not None
        assert match.function == function


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        (HttpEvent("GET", "pets"), "starting with '/'"),
        (HttpEvent("GET", "/a/{proxy+}/b"), "must be the last segment"),
        (HttpEvent("GET", "/a/{}"), "invalid path variable"),
        (HttpEvent("GET", "/a/{x}{y}"), "invalid path variable"),
        (HttpEvent("GET", "/a/x{y}"), "must fill a whole segment"),
        (HttpEvent("GET", "/a//b"), "empty path segment"),
        (HttpEvent("GET", "/a/"), "empty path segment"),
        (HttpEvent("GET", "/{x}/{x}"), "appears more than once"),
        (HttpEvent("FETCH", "/a"), "invalid method 'FETCH'"),
        (HttpEvent("GET", "/a", "3.0"), "invalid payload version '3.0'"),
    ],
)
def test_invalid_route_rejected(event: HttpEvent, fragment: str) -> None:
    with pytest.raises(RouteError) as raised:
        Router([("broken", event)])

    assert "'broken'" in str(raised.value)
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (HttpEvent("GET", "/a"), HttpEvent("GET", "/a")),
        (HttpEvent("GET", "/a/{x}"), HttpEvent("GET", "/a/{y}")),
        (HttpEvent("ANY", "/a/{proxy+}"), HttpEvent("ANY", "/a/{rest+}")),
    ],
)
def test_clashing_routes_rejected(first: HttpEvent, second: HttpEvent) -> None:
    with pytest.raises(RouteError) as raised:
        Router([("one", first), ("two", second)])

    assert "clashes" in str(raised.value)
    assert "'one'" in str(raised.value)


def test_same_template_other_method_allowed() -> None:
    router = Router([("read", HttpEvent("GET", "/a/{x}")), ("write", HttpEvent("PUT", "/a/{y}"))])

    read = router.match("GET", "/a/1")
    write = router.match("PUT", "/a/1")

    assert read is not None and read.function == "read"
    assert write is not None and write.function == "write"
    assert write.path_parameters == {"y": "1"}


def test_rest_route_matches_under_its_stage() -> None:
    staged = Router([("items", HttpEvent("GET", "/items/{id}", "1.0", stage="prod")), ("web", HttpEvent("GET", "/web"))])

    plain = staged.match("GET", "/items/7")
    prefixed = staged.match("GET", "/prod/items/7")

    assert plain is not None
    assert plain.staged_path is None
    assert prefixed is not None
    assert prefixed.function == "items"
    assert (prefixed.staged_path, prefixed.path_parameters) == ("/items/7", {"id": "7"})
    assert staged.match("GET", "/dev/items/7") is None  # This is another stage.
    assert staged.match("GET", "/prod/web") is None  # An HTTP API route has no stage.


def test_staged_http_route_only_under_stage() -> None:
    router = Router([
        ("staged", HttpEvent("GET", "/hello/{name}", stage="dev")),
        ("staged_default", HttpEvent("ANY", "$default", stage="dev")),
        ("root", HttpEvent("GET", "/hello/{name}")),
        ("rest", HttpEvent("GET", "/items", "1.0", stage="prod")),
    ])

    staged = router.match("GET", "/dev/hello/ada")
    at_root = router.match("GET", "/hello/ada")
    default = router.match("POST", "/dev/elsewhere")

    assert staged is not None and (staged.function, staged.path_parameters) == ("staged", {"name": "ada"})
    assert at_root is not None and at_root.function == "root"
    assert default is not None and (default.function, default.route_key) == ("staged_default", "$default")
    assert router.match("POST", "/elsewhere") is None  # the stage's $default route is not the root's
    assert router.unmatched_api("/prod/none") is ApiType.REST
    assert router.unmatched_api("/none") is ApiType.HTTP


STAGED_ROUTES = [
    ("short", HttpEvent("GET", "/short-rest/{id}", "1.0", stage="prod")),
    ("items", HttpEvent("GET", "/items/{id}", "1.0", stage="prod")),
    ("literal", HttpEvent("GET", "/prod/items/{id}")),
    ("prod_files", HttpEvent("GET", "/prod/files/{proxy+}")),
    ("files", HttpEvent("GET", "/files/{proxy+}", "1.0", stage="prod")),
    ("site", HttpEvent("ANY", "/{proxy+}")),
]


@pytest.mark.parametrize(
    ("path", "function", "staged_path"),
    [
        # A staged REST match beats a catch-all.
        ("/prod/short-rest/2", "short", "/short-rest/2"),
        # A route matching the whole path as requested beats a staged match.
        ("/prod/items/2", "literal", None),
        # A staged greedy REST route beats an unstaged greedy route, even one with a longer prefix.
        ("/prod/files/a/b", "files", "/files/a/b"),
        # Without a staged match, the catch-all still takes the path.
        ("/prod/other", "site", None),
        ("/dev/short-rest/2", "site", None),
        # A REST route also matches without its stage.
        ("/short-rest/2", "short", None),
    ],
)
def test_staged_route_precedence(path: str, function: str, staged_path: str | None) -> None:
    match = Router(STAGED_ROUTES).match("GET", path)

    assert match is not None
    assert match.function == function
    assert match.staged_path == staged_path


@pytest.mark.parametrize(
    ("event", "served_by"),
    [
        (HttpEvent("GET", "/metrics"), "Prometheus metrics"),
        (HttpEvent("ANY", "/metrics"), "Prometheus metrics"),
        (HttpEvent("GET", "/ui"), "dashboard"),
        (HttpEvent("POST", "/ui/login"), "dashboard"),
        (HttpEvent("ANY", "/ui/{proxy+}"), "dashboard"),
        (HttpEvent("GET", "/_squall/api/{name}"), "management"),
        (HttpEvent("POST", "/_squall/custom"), "management"),
        (HttpEvent("POST", "/2015-03-31/functions/{name}/invocations", "1.0"), "Invoke API"),
        (HttpEvent("GET", "/2024-08-31/functions/{name}/recursion-config"), "recursion settings"),
        (HttpEvent("GET", "/items", "1.0", stage="ui"), "dashboard"),
        (HttpEvent("GET", "/", "1.0", stage="metrics"), "Prometheus metrics"),
    ],
)
def test_reserved_path_rejected(event: HttpEvent, served_by: str) -> None:
    with pytest.raises(RouteError) as raised:
        Router([("hidden", HttpEvent("GET", "/visible")), ("hidden", event)])

    message = str(raised.value)
    assert raised.value.function == "hidden"
    assert raised.value.path == event.path
    assert f"http route {event.path!r}" in message
    assert served_by in message
    assert "GET /metrics, and /ui, /_squall, /2015-03-31, /2024-08-31 and every path under them" in message


@pytest.mark.parametrize(
    "event",
    [
        HttpEvent("ANY", "/{proxy+}"),
        HttpEvent("GET", "/{page}"),
        HttpEvent("POST", "/metrics"),
        HttpEvent("GET", "/metrics/{proxy+}"),
        HttpEvent("GET", "/uix"),
        HttpEvent("GET", "/api/ui/{proxy+}"),
        HttpEvent("GET", "/items", "1.0", stage="prod"),
    ],
)
def test_unreserved_path_allowed(event: HttpEvent) -> None:
    assert Router([("allowed", event)]).default_api in ApiType


def test_reserved_segments_cover_gateway_prefixes() -> None:
    # Every prefix the gateway serves before routing must be one the router rejects.
    for prefix in (management.PREFIX, services_api.PREFIX, objects_api.PREFIX, invoke_api.PREFIX, "/ui/"):
        first_segment = prefix.split("/")[1]
        assert first_segment in RESERVED_SEGMENTS, prefix
    assert METRICS_PATH == "/metrics"


DEFAULT_ROUTES = [
    ("get_pets", HttpEvent("GET", "/pets")),
    ("files", HttpEvent("ANY", "/files/{proxy+}")),
    ("rest_items", HttpEvent("GET", "/items", "1.0", stage="prod")),
    ("fallback", HttpEvent("ANY", "$default")),
]


@pytest.mark.parametrize(
    ("method", "path", "function"),
    [
        ("GET", "/pets", "get_pets"),
        ("PUT", "/files/a/b", "files"),
        ("GET", "/prod/items", "rest_items"),
        # Only what no other route matches reaches the default route.
        ("POST", "/pets", "fallback"),
        ("GET", "/", "fallback"),
        ("DELETE", "/no/such/path", "fallback"),
        ("GET", "/files", "fallback"),
    ],
)
def test_default_route_takes_only_the_rest(method: str, path: str, function: str) -> None:
    match = Router(DEFAULT_ROUTES).match(method, path)

    assert match is not None
    assert match.function == function


def test_default_route_match_has_no_parameters() -> None:
    match = Router(DEFAULT_ROUTES).match("GET", "/a/b")

    assert match is not None
    assert match.route_key == "$default"
    assert match.path_parameters is None


def test_second_default_route_rejected() -> None:
    with pytest.raises(RouteError) as raised:
        Router([("one", HttpEvent("ANY", "$default")), ("two", HttpEvent("ANY", "$default"))])

    assert raised.value.other_function == "one"
    assert "an API has one default route" in str(raised.value)


def test_staged_catch_all_beats_http_route() -> None:
    # A REST catch-all with a stage next to an HTTP API route: "/dev/items/7" is the REST API's invoke URL.
    router = Router([
        ("rest", HttpEvent("ANY", "/{proxy+}", "1.0", stage="dev")),
        ("http", HttpEvent("GET", "/items/{id}")),
    ])

    staged = router.match("GET", "/dev/items/7")
    plain = router.match("GET", "/items/7")

    assert staged is not None
    assert (staged.function, staged.path_parameters, staged.staged_path) == ("rest", {"proxy": "items/7"}, "/items/7")
    assert plain is not None and plain.function == "http"


def test_route_warnings_for_catch_alls() -> None:
    routes = [
        ("app", HttpEvent("ANY", "/{proxy+}", "1.0", stage="dev")),
        ("site", HttpEvent("ANY", "$default")),
        ("staged", HttpEvent("ANY", "/{proxy+}", stage="beta")),
        ("plain", HttpEvent("GET", "/items/{proxy+}")),
    ]

    warnings = route_warnings(routes)

    assert warnings == [
        "route ANY /{proxy+} of function 'app' does not get GET /metrics, and /ui, /_squall, /2015-03-31, "
        "/2024-08-31 and every path under them: Squall serves those itself",
        "the $default route of function 'site' does not get GET /metrics, and /ui, /_squall, /2015-03-31, "
        "/2024-08-31 and every path under them: Squall serves those itself",
        "the $default route of function 'site' is never called: route ANY /{proxy+} of function 'app' takes every "
        "path first",
    ]
    assert route_warnings([("one", HttpEvent("GET", "/{proxy+}"))])[0].startswith("route GET /{proxy+} of function 'one'")
    assert route_warnings([("x", HttpEvent("GET", "/a"))]) == []
    assert route_warnings([("page", HttpEvent("GET", "/{page}"))])[0].startswith(
        "route GET /{page} of function 'page' does not get GET /metrics"
    )


def test_http_stages_keep_routes_apart() -> None:
    router = Router([
        ("beta", HttpEvent("GET", "/x", stage="beta")),
        ("gamma", HttpEvent("GET", "/x", stage="gamma")),
        ("root", HttpEvent("GET", "/x")),
    ])

    assert [router.match("GET", path).function for path in ("/beta/x", "/gamma/x", "/x")] == ["beta", "gamma", "root"]


@pytest.mark.parametrize("root", [HttpEvent("GET", "/beta/x"), HttpEvent("ANY", "/beta/x"), HttpEvent("GET", "/beta/{id}")])
def test_root_route_hiding_staged_rejected(root: HttpEvent) -> None:
    with pytest.raises(RouteError, match=r"GET under stage 'beta' is also matched by the route .* of function 'root'"):
        Router([("root", root), ("staged", HttpEvent("GET", "/x", stage="beta"))])
