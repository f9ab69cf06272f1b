"""Secrets on a real server: set over the API, resolved into a function's environment, never shown."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from squall.cli import cli
from tests.conftest import RunningServer

BASE_MANIFEST = """\
service: base
functions:
  ping:
    handler: app.ping
"""

VAULT_MANIFEST = """\
service: vault
functions:
  check:
    handler: app.check
    environment:
      DB_PASSWORD: ${secret:DB_PASSWORD}
      DSN: "postgres://app:${secret:DB_PASSWORD}@db:5432/app"
"""

# The handler returns hashes, so the value itself never travels back.
VAULT_HANDLER = """\
import hashlib
import os


def check(event, context):
    print("checking the database password")
    return {
        "password_sha256": hashlib.sha256(os.environ["DB_PASSWORD"].encode()).hexdigest(),
        "dsn_sha256": hashlib.sha256(os.environ["DSN"].encode()).hexdigest(),
    }
"""

MISSING_MANIFEST = """\
service: missing
functions:
  lost:
    handler: app.lost
    environment:
      TOKEN: ${secret:NEVER_SET_TOKEN}
"""

REQUEST_TIMEOUT_S = 30.0
LOG_WAIT_S = 10.0
LOG_POLL_INTERVAL_S = 0.1


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write_app(folder: Path, manifest: str, code: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "squall.yml").write_text(manifest)
    (folder / "app.py").write_text(code)
    return folder


def set_secret(client: httpx.Client, name: str, value: str) -> httpx.Response:
    return client.post("/_squall/api/secrets/set", json={"name": name, "value": value})


def deploy(client: httpx.Client, folder: Path) -> httpx.Response:
    return client.post("/_squall/api/deploy", json={"folder": str(folder)})


def invoke_check(client: httpx.Client, target: str = "check") -> dict[str, str]:
    response = client.post(f"/2015-03-31/functions/{target}/invocations", content=b"{}")
    assert response.status_code == 200, response.text
    assert "x-amz-function-error" not in response.headers, response.text
    return response.json()


def wait_for_logs(client: httpx.Client, function: str) -> httpx.Response:
    """Poll the logs API until the function's log entry is stored, which happens after its invocation returns."""
    deadline = time.monotonic() + LOG_WAIT_S
    while True:
        response = client.get("/_squall/api/logs", params={"function": function})
        if response.status_code == 200 and response.json()["entries"]:
            return response
        if time.monotonic() > deadline:
            raise AssertionError(f"no log entry of {function} within {LOG_WAIT_S} s: {response.text}")
        time.sleep(LOG_POLL_INTERVAL_S)


def files_containing(folder: Path, needle: bytes) -> list[str]:
    return [str(path) for path in folder.rglob("*") if path.is_file() and needle in path.read_bytes()]


@pytest.fixture
def base_folder(tmp_path: Path) -> Path:
    return write_app(tmp_path / "base", BASE_MANIFEST, "def ping(event, context):\n    return 'pong'\n")


@pytest.fixture(autouse=True)
def key_from_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the server keep its key in DATA/secret.key, whatever the environment running the tests sets."""
    monkeypatch.delenv("SQUALL_SECRET_KEY", raising=False)


def test_secret_reaches_function_and_nothing_else(
    serve: Callable[..., RunningServer], tmp_path: Path, base_folder: Path
) -> None:
    value = f"pw-{uuid.uuid4().hex}"
    server = serve(base_folder)
    vault = write_app(tmp_path / "vault", VAULT_MANIFEST, VAULT_HANDLER)

    with httpx.Client(base_url=server.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        stored = set_secret(client, "DB_PASSWORD", value)
        deployed = deploy(client, vault)
        result = invoke_check(client)
        functions = client.get("/_squall/api/functions")
        secrets = client.get("/_squall/api/secrets")
        logs = wait_for_logs(client, "check")

    listed = CliRunner().invoke(cli, ["ls", "--endpoint", server.endpoint, "--data", str(server.data)])
    secret_listing = CliRunner().invoke(cli, ["secret", "ls", "--endpoint", server.endpoint, "--data", str(server.data)])

    assert stored.status_code == 200, stored.text
    assert deployed.status_code == 200, deployed.text
    assert result == {"password_sha256": sha256(value), "dsn_sha256": sha256(f"postgres://app:{value}@db:5432/app")}
    assert functions.status_code == 200
    assert "check" in functions.text
    assert value not in functions.text
    assert [item["name"] for item in secrets.json()["secrets"]] == ["DB_PASSWORD"]
    assert value not in secrets.text
    assert "checking the database password" in logs.text
    assert value not in logs.text
    assert listed.exit_code == 0, listed.output
    assert "check" in listed.output
    assert value not in listed.output
    assert secret_listing.exit_code == 0, secret_listing.output
    assert "DB_PASSWORD" in secret_listing.output
    assert value not in secret_listing.output
    # Every file of the data folder, databases included: secrets.db holds only ciphertext.
    assert files_containing(server.data, value.encode()) == []
    assert (server.data / "secrets.db").is_file()
    assert value not in "".join(server.output)


@pytest.mark.parametrize("target", ["check", "check:live"])
def test_changed_secret_reaches_new_instances(
    serve: Callable[..., RunningServer], tmp_path: Path, base_folder: Path, target: str
) -> None:
    server = serve(base_folder)
    vault = write_app(tmp_path / "vault", VAULT_MANIFEST, VAULT_HANDLER)

    with httpx.Client(base_url=server.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        set_secret(client, "DB_PASSWORD", "first-value")
        assert deploy(client, vault).status_code == 200
        if target == "check:live":
            # A published version behind an alias gets the new value too.
            assert client.post("/_squall/api/publish", json={"function": "check"}).status_code == 200
            alias = {"function": "check", "alias": "live", "version": "1"}
            assert client.post("/_squall/api/alias", json=alias).status_code == 200
        before = invoke_check(client, target)
        changed = set_secret(client, "DB_PASSWORD", "second-value")
        after = invoke_check(client, target)

    assert before["password_sha256"] == sha256("first-value")
    assert changed.status_code == 200, changed.text
    assert changed.json()["created"] is False
    assert changed.json()["redeployed"] == ["vault"]
    assert after["password_sha256"] == sha256("second-value")


def test_unknown_secret_fails_deploy_by_name(
    serve: Callable[..., RunningServer], tmp_path: Path, base_folder: Path
) -> None:
    server = serve(base_folder)
    missing = write_app(tmp_path / "missing", MISSING_MANIFEST, "def lost(event, context):\n    return 1\n")

    with httpx.Client(base_url=server.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        set_secret(client, "OTHER_SECRET", "other-value-abc")
        response = deploy(client, missing)
        functions = client.get("/_squall/api/functions").json()["functions"]

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "SecretNotFound"
    assert "NEVER_SET_TOKEN" in error["message"]
    assert "other-value-abc" not in response.text
    assert [function["name"] for function in functions] == ["ping"]


def test_referenced_secret_cannot_be_deleted(
    serve: Callable[..., RunningServer], tmp_path: Path, base_folder: Path
) -> None:
    server = serve(base_folder)
    vault = write_app(tmp_path / "vault", VAULT_MANIFEST, VAULT_HANDLER)

    with httpx.Client(base_url=server.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        set_secret(client, "DB_PASSWORD", "kept-value")
        assert deploy(client, vault).status_code == 200
        deleted = client.post("/_squall/api/secrets/delete", json={"name": "DB_PASSWORD"})
        result = invoke_check(client)

    assert deleted.status_code == 409
    assert "check" in deleted.json()["error"]["message"]
    assert result["password_sha256"] == sha256("kept-value")


def test_restart_reads_secrets_with_key_file(
    serve: Callable[..., RunningServer], tmp_path: Path, base_folder: Path
) -> None:
    data = tmp_path / "data"
    vault = write_app(tmp_path / "vault", VAULT_MANIFEST, VAULT_HANDLER)
    first = serve(base_folder, data=data)
    with httpx.Client(base_url=first.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        set_secret(client, "DB_PASSWORD", "survives-restart")
        assert deploy(client, vault).status_code == 200
    first.stop()

    second = serve(base_folder, data=data)
    with httpx.Client(base_url=second.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        result = invoke_check(client)

    assert result["password_sha256"] == sha256("survives-restart")


def test_wrong_key_stops_start(serve: Callable[..., RunningServer], tmp_path: Path, base_folder: Path) -> None:
    data = tmp_path / "data"
    first = serve(base_folder, data=data)
    with httpx.Client(base_url=first.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        set_secret(client, "DB_PASSWORD", "locked-value")
    first.stop()

    wrong_key = "A" * 43 + "="
    with pytest.raises(RuntimeError) as raised:
        serve(base_folder, data=data, env={"SQUALL_SECRET_KEY": wrong_key})

    assert "another key" in str(raised.value)
    assert "SQUALL_SECRET_KEY" in str(raised.value)


PLAIN_VAULT_MANIFEST = """\
service: vault
functions:
  check:
    handler: app.check
    environment:
      DB_PASSWORD: plain
      DSN: plain
"""


def test_secret_of_published_version_kept(
    serve: Callable[..., RunningServer], tmp_path: Path, base_folder: Path
) -> None:
    data = tmp_path / "data"
    server = serve(base_folder, data=data)
    vault = write_app(tmp_path / "vault", VAULT_MANIFEST, VAULT_HANDLER)
    with httpx.Client(base_url=server.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        set_secret(client, "DB_PASSWORD", "versioned-value")
        assert deploy(client, vault).status_code == 200
        published = client.post("/_squall/api/publish", json={"function": "check"})
        assert published.status_code == 200, published.text
        # $LATEST stops using the secret; version 1 still does.
        (vault / "squall.yml").write_text(PLAIN_VAULT_MANIFEST)
        assert deploy(client, vault).status_code == 200
        deleted = client.post("/_squall/api/secrets/delete", json={"name": "DB_PASSWORD"})
        result = invoke_check(client, "check:1")
    server.stop()

    assert deleted.status_code == 409
    assert "published versions check:1 reference it" in deleted.json()["error"]["message"]
    assert result["password_sha256"] == sha256("versioned-value")

    # A secret gone by other means, with no server running, fails the version's
    # calls with a message that names it, not with a bare 500.
    from squall.secrets.store import open_secret_store

    store = open_secret_store(data)
    store.delete("DB_PASSWORD")
    store.close()
    restarted = serve(base_folder, data=data)
    with httpx.Client(base_url=restarted.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        failed = client.post("/2015-03-31/functions/check/invocations", params={"Qualifier": "1"}, content=b"{}")

    assert failed.status_code == 500
    assert failed.headers["x-amzn-errortype"] == "ServiceException"
    assert "secret 'DB_PASSWORD', which does not exist" in failed.json()["Message"]


def test_secret_past_4kb_fails_deploy(serve: Callable[..., RunningServer], tmp_path: Path, base_folder: Path) -> None:
    server = serve(base_folder)
    vault = write_app(tmp_path / "vault", VAULT_MANIFEST, VAULT_HANDLER)
    with httpx.Client(base_url=server.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        set_secret(client, "DB_PASSWORD", "x" * 2500)
        deployed = deploy(client, vault)
        functions = client.get("/_squall/api/functions").json()["functions"]

    # Two variables hold the 2,500-byte value once each, so the environment passes 4 KB.
    assert deployed.status_code != 200
    message = deployed.json()["error"]["message"]
    assert "function 'check', with its secrets filled in" in message
    assert "over Lambda's limit of 4,096 bytes" in message
    assert "x" * 100 not in message
    assert "check" not in [function["name"] for function in functions]


def test_secret_update_past_4kb_rejected(
    serve: Callable[..., RunningServer], tmp_path: Path, base_folder: Path
) -> None:
    server = serve(base_folder)
    vault = write_app(tmp_path / "vault", VAULT_MANIFEST, VAULT_HANDLER)
    with httpx.Client(base_url=server.endpoint, timeout=REQUEST_TIMEOUT_S) as client:
        set_secret(client, "DB_PASSWORD", "x" * 1000)
        assert deploy(client, vault).status_code == 200
        # Two variables hold the value, so 2,500 bytes take the environment past 4 KB.
        rejected = set_secret(client, "DB_PASSWORD", "y" * 2500)
        result = invoke_check(client)

    assert rejected.status_code == 400
    assert rejected.json()["error"]["type"] == "InvalidSecretValue"
    message = rejected.json()["error"]["message"]
    assert "secret 'DB_PASSWORD' is not changed: with the new value, function check:" in message
    assert "over Lambda's limit of 4,096 bytes" in message
    assert "y" * 100 not in message
    assert result["password_sha256"] == sha256("x" * 1000)
