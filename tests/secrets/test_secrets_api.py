"""The secrets routes of the management API, against a real store and a stand-in platform."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from squall.gateway.secrets_api import SecretsApi
from squall.manifest.spec import FunctionSpec, ServiceSpec
from squall.secrets.store import SecretStore, open_secret_store

VALUE = "v4lue-that-must-not-leak"


@dataclass
class StandInDispatcher:
    services: dict[str, ServiceSpec] = field(default_factory=dict)
    pools: list[Any] = field(default_factory=list)  # running pools of $LATEST and of published versions
    retired: list[tuple[str, str]] = field(default_factory=list)

    def running_pools(self) -> list[Any]:
        return list(self.pools)

    def retire_version(self, function: str, version: str) -> None:
        self.retired.append((function, version))


@dataclass
class StandInPlatform:
    """What SecretsApi uses of the platform: deployed services and redeploys of them."""

    dispatcher: StandInDispatcher = field(default_factory=StandInDispatcher)
    deployed: list[str] = field(default_factory=list)
    failure: Exception | None = None
    versions: Any = None  # the published versions, or None for a server without them

    async def redeploy(self, name: str) -> None:
        if self.failure is not None:
            raise self.failure
        self.deployed.append(name)


@dataclass
class StandInVersions:
    """Published versions: the service spec of each, by function and number."""

    published: dict[tuple[str, int], ServiceSpec] = field(default_factory=dict)

    def versions(self, function: str) -> list[Any]:
        return [SimpleNamespace(version=number) for name, number in sorted(self.published) if name == function]

    def load(self, function: str, version: str) -> ServiceSpec:
        return self.published[(function, int(version))]


def service(name: str, environment: dict[str, str]) -> ServiceSpec:
    function = FunctionSpec(name=f"{name}-fn", handler="app.handler", environment=environment)
    return ServiceSpec(service=name, root=Path("/code"), manifest_path=Path("/code/squall.yml"),
                       functions={function.name: function})


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    opened = open_secret_store(tmp_path, environ={})
    yield opened
    opened.close()


@pytest.fixture
def platform() -> StandInPlatform:
    return StandInPlatform()


@pytest.fixture
def api(store: SecretStore, platform: StandInPlatform) -> SecretsApi:
    return SecretsApi(store, platform)  # type: ignore[arg-type]


async def call(api: SecretsApi, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    if isinstance(body, bytes):
        raw = body
    elif body is None:
        raw = b""
    else:
        raw = json.dumps(body).encode()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    status, data = await api.routes()[(method, path)]({}, receive)
    # Serialised as the management API sends it, so the checks run on what a client receives.
    return status, json.loads(json.dumps(data))


async def test_set_then_list(api: SecretsApi, store: SecretStore) -> None:
    status, answer = await call(api, "POST", "secrets/set", {"name": "DB_PASSWORD", "value": VALUE})
    listed_status, listed = await call(api, "GET", "secrets")

    assert status == 200
    assert answer["name"] == "DB_PASSWORD"
    assert answer["created"] is True
    assert listed_status == 200
    assert [secret["name"] for secret in listed["secrets"]] == ["DB_PASSWORD"]
    assert set(listed["secrets"][0]) == {"name", "updated_at"}
    assert store.get("DB_PASSWORD") == VALUE


async def test_responses_never_contain_value(api: SecretsApi, platform: StandInPlatform) -> None:
    platform.dispatcher.services["shop"] = service("shop", {"DB": "${secret:DB_PASSWORD}"})
    answers = [
        await call(api, "POST", "secrets/set", {"name": "DB_PASSWORD", "value": VALUE}),
        await call(api, "POST", "secrets/set", {"name": "DB_PASSWORD", "value": VALUE}),
        await call(api, "GET", "secrets"),
        await call(api, "POST", "secrets/delete", {"name": "DB_PASSWORD"}),
        await call(api, "POST", "secrets/set", {"name": "bad name", "value": VALUE}),
        await call(api, "POST", "secrets/set", {"name": "OK", "value": VALUE + "\x00"}),
        await call(api, "POST", "secrets/set", b'{"name": "OK", "value": "' + VALUE.encode() + b'"'),
    ]

    for status, data in answers:
        assert VALUE not in json.dumps(data), (status, data)


async def test_set_redeploys_services_that_reference_it(api: SecretsApi, platform: StandInPlatform) -> None:
    platform.dispatcher.services["shop"] = service("shop", {"DSN": "pg://app:${secret:DB_PASSWORD}@db"})
    platform.dispatcher.services["blog"] = service("blog", {"PLAIN": "1"})

    status, answer = await call(api, "POST", "secrets/set", {"name": "DB_PASSWORD", "value": VALUE})

    assert status == 200
    assert answer["redeployed"] == ["shop"]
    assert answer["redeploy_errors"] == {}
    assert platform.deployed == ["shop"]


async def test_set_stops_versions_that_reference_it(api: SecretsApi, platform: StandInPlatform) -> None:
    # Version 1 uses the secret, but $LATEST no longer does.
    old = FunctionSpec(name="shop-fn", handler="app.handler", environment={"DSN": "${secret:DB_PASSWORD}"})
    platform.dispatcher.services["shop"] = service("shop", {"PLAIN": "1"})
    platform.dispatcher.pools = [
        SimpleNamespace(spec=old, settings=SimpleNamespace(version="1")),
        SimpleNamespace(spec=platform.dispatcher.services["shop"].functions["shop-fn"], settings=SimpleNamespace(version="2")),
    ]

    status, body = await call(api, "POST", "secrets/set", {"name": "DB_PASSWORD", "value": VALUE})

    assert status == 200
    assert body["redeployed"] == []
    assert platform.dispatcher.retired == [("shop-fn", "1")]


async def test_failed_redeploy_is_reported(api: SecretsApi, platform: StandInPlatform, store: SecretStore) -> None:
    platform.dispatcher.services["shop"] = service("shop", {"DB": "${secret:DB_PASSWORD}"})
    platform.failure = ValueError("zygote of 'shop-fn' did not start")

    status, answer = await call(api, "POST", "secrets/set", {"name": "DB_PASSWORD", "value": VALUE})

    assert status == 200
    assert answer["redeployed"] == []
    assert "did not start" in answer["redeploy_errors"]["shop"]
    assert store.get("DB_PASSWORD") == VALUE


async def test_delete_referenced_secret_is_rejected(api: SecretsApi, platform: StandInPlatform, store: SecretStore) -> None:
    store.set("DB_PASSWORD", VALUE)
    platform.dispatcher.services["shop"] = service("shop", {"DB": "${secret:DB_PASSWORD}"})

    status, answer = await call(api, "POST", "secrets/delete", {"name": "DB_PASSWORD"})

    assert status == 409
    assert answer["error"]["type"] == "SecretInUse"
    assert "shop-fn" in answer["error"]["message"]
    assert store.get("DB_PASSWORD") == VALUE


async def test_delete_secret_of_published_version_rejected(
    api: SecretsApi, platform: StandInPlatform, store: SecretStore
) -> None:
    store.set("DB_PASSWORD", VALUE)
    platform.dispatcher.services["shop"] = service("shop", {})
    platform.versions = StandInVersions({("shop-fn", 1): service("shop", {"DB": "${secret:DB_PASSWORD}"})})

    status, answer = await call(api, "POST", "secrets/delete", {"name": "DB_PASSWORD"})

    assert status == 409
    assert answer["error"]["type"] == "SecretInUse"
    assert "published versions shop-fn:1 reference it" in answer["error"]["message"]
    assert store.get("DB_PASSWORD") == VALUE


async def test_delete_secret_no_version_uses(api: SecretsApi, platform: StandInPlatform, store: SecretStore) -> None:
    store.set("DB_PASSWORD", VALUE)
    platform.dispatcher.services["shop"] = service("shop", {})
    platform.versions = StandInVersions({("shop-fn", 1): service("shop", {"OTHER": "plain"})})

    status, _ = await call(api, "POST", "secrets/delete", {"name": "DB_PASSWORD"})

    assert status == 200
    assert store.get("DB_PASSWORD") is None


@pytest.mark.parametrize(
    ("path", "body", "status", "kind"),
    [
        ("secrets/set", {"name": "has space", "value": "x"}, 400, "InvalidSecretName"),
        ("secrets/set", {"name": "OK", "value": ""}, 400, "InvalidSecretValue"),
        ("secrets/set", {"name": "OK"}, 400, "InvalidSecretValue"),
        ("secrets/set", ["OK", "x"], 400, "InvalidParameterValue"),
        ("secrets/set", b"{not json", 400, "InvalidParameterValue"),
        ("secrets/delete", {"name": "NEVER_SET"}, 404, "SecretNotFound"),
        ("secrets/delete", {"name": ["not", "a", "name"]}, 400, "InvalidSecretName"),
    ],
)
async def test_bad_requests(api: SecretsApi, path: str, body: Any, status: int, kind: str) -> None:
    got_status, answer = await call(api, "POST", path, body)

    assert got_status == status
    assert answer["error"]["type"] == kind
