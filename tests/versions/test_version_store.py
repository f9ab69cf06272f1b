"""Unit tests of the version store: numbering, alias rules and weighted routing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from squall.versions import InvalidVersionRequest, QualifierNotFound, VersionInUse, VersionStore


@pytest.fixture
def store(tmp_path: Path) -> VersionStore:
    store = VersionStore(tmp_path / "versions.db")
    yield store
    store.close()


def publish_copy(store: VersionStore, tmp_path: Path, digest: str, function: str = "fn") -> int:
    root = tmp_path / "code" / digest
    return store.publish(function, "svc", root, f"from {digest}", manifest=root / "squall.yml")


def test_publish_numbers_versions_per_function(store: VersionStore, tmp_path: Path) -> None:
    assert publish_copy(store, tmp_path, "aaa") == 1
    assert publish_copy(store, tmp_path, "bbb") == 2
    assert publish_copy(store, tmp_path, "aaa", function="other") == 1
    assert [v.version for v in store.versions("fn")] == [1, 2]
    assert store.versions("fn")[0].root == tmp_path / "code" / "aaa"
    assert store.versions("fn")[0].description == "from aaa"


def test_publish_unchanged_code_returns_latest_version(store: VersionStore, tmp_path: Path) -> None:
    publish_copy(store, tmp_path, "aaa")
    assert publish_copy(store, tmp_path, "aaa") == 1
    assert len(store.versions("fn")) == 1


def test_publish_rejects_manifest_outside_copy(store: VersionStore, tmp_path: Path) -> None:
    with pytest.raises(InvalidVersionRequest, match="not inside the code copy"):
        store.publish("fn", "svc", tmp_path / "code" / "aaa", manifest=tmp_path / "elsewhere" / "squall.yml")


def test_persists_across_reopen(tmp_path: Path) -> None:
    first = VersionStore(tmp_path / "versions.db")
    publish_copy(first, tmp_path, "aaa")
    first.set_alias("fn", "live", 1)
    first.close()

    second = VersionStore(tmp_path / "versions.db")
    assert second.resolve("fn", "live") == "1"
    second.close()


@pytest.mark.parametrize(
    ("qualifier", "expected"),
    [(None, "$LATEST"), ("$LATEST", "$LATEST"), ("1", "1"), ("2", "2"), ("live", "1"), ("latest", "$LATEST")],
)
def test_resolve_qualifier(store: VersionStore, tmp_path: Path, qualifier: str | None, expected: str) -> None:
    publish_copy(store, tmp_path, "aaa")
    publish_copy(store, tmp_path, "bbb")
    store.set_alias("fn", "live", 1)
    store.set_alias("fn", "latest", "$LATEST")
    assert store.resolve("fn", qualifier) == expected


@pytest.mark.parametrize("qualifier", ["3", "0", "staging", "01", "001"])
def test_resolve_unknown_qualifier(store: VersionStore, tmp_path: Path, qualifier: str) -> None:
    publish_copy(store, tmp_path, "aaa")
    with pytest.raises(QualifierNotFound, match=repr(qualifier)):
        store.resolve("fn", qualifier)


def test_alias_moves_and_rolls_back(store: VersionStore, tmp_path: Path) -> None:
    publish_copy(store, tmp_path, "aaa")
    publish_copy(store, tmp_path, "bbb")
    store.set_alias("fn", "live", 1)
    store.set_alias("fn", "live", 2)
    assert store.resolve("fn", "live") == "2"
    store.set_alias("fn", "live", 1)
    assert store.resolve("fn", "live") == "1"
    assert [(a.name, a.version) for a in store.aliases("fn")] == [("live", "1")]


@pytest.mark.parametrize(
    ("alias", "version", "extra", "message"),
    [
        ("123", 1, None, "not only digits"),
        ("bad name", 1, None, "is invalid"),
        ("x" * 129, 1, None, "is invalid"),
        ("live", 9, None, "has no version 9; its versions are \\$LATEST, 1"),
        ("live", "one", None, "expected \\$LATEST or a number"),
        ("live", 1, {2: 1.5}, "expected 0.0 to 1.0"),
        ("live", 1, {2: -0.1}, "expected 0.0 to 1.0"),
        ("live", 1, {1: 0.5}, "alias's own version"),
        ("live", 1, {9: 0.5}, "has no version 9; its versions are \\$LATEST, 1"),
        ("live", 1, {2: 0.1, 3: 0.1}, "at most 1"),
        ("live", "$LATEST", {2: 0.1}, "cannot have routing weights"),
    ],
)
def test_set_alias_rejects(
    store: VersionStore, tmp_path: Path, alias: str, version: object, extra: dict[int, float] | None, message: str
) -> None:
    for digest in ("aaa", "bbb", "ccc"):
        publish_copy(store, tmp_path, digest)
    with pytest.raises((InvalidVersionRequest, QualifierNotFound), match=message):
        store.set_alias("fn", alias, version, extra)
    assert store.aliases("fn") == []


@pytest.mark.parametrize("weight", [0.0, 0.1, 0.5, 1.0])
def test_weighted_alias_splits_invocations(store: VersionStore, tmp_path: Path, weight: float) -> None:
    publish_copy(store, tmp_path, "aaa")
    publish_copy(store, tmp_path, "bbb")
    store.set_alias("fn", "canary", 1, {2: weight})
    seeded = random.Random(7)
    picks = [store.resolve("fn", "canary", seeded.random) for _ in range(2000)]

    share = picks.count("2") / len(picks)
    assert set(picks) <= {"1", "2"}
    assert share == pytest.approx(weight, abs=0.03)


SAM_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, Runtime: python3.12}
"""


def test_load_sam_service_in_digest_folder(store: VersionStore, tmp_path: Path) -> None:
    # A SAM service takes its name from its folder, and a code copy's folder is named by a digest,
    # so the loaded version must keep the service name it was published with.
    root = tmp_path / "code" / "40a0662abb0c13bbb43b"
    root.mkdir(parents=True)
    (root / "template.yaml").write_text(SAM_TEMPLATE)
    (root / "app.py").write_text("def handler(event, context):\n    return 1\n")
    version = store.publish("Fn", "orders-api", root, manifest=root / "template.yaml")

    service = store.load("Fn", str(version))

    assert service.service == "orders-api"
    assert service.root == root
    assert list(service.functions) == ["Fn"]


def test_deleted_version_number_is_not_reused(store: VersionStore, tmp_path: Path) -> None:
    publish_copy(store, tmp_path, "aaa")
    publish_copy(store, tmp_path, "bbb")

    store.delete_version("fn", 2)

    assert [v.version for v in store.versions("fn")] == [1]
    assert publish_copy(store, tmp_path, "ccc") == 3
    with pytest.raises(QualifierNotFound):
        store.resolve("fn", "2")


def test_version_behind_an_alias_cannot_be_deleted(store: VersionStore, tmp_path: Path) -> None:
    publish_copy(store, tmp_path, "aaa")
    publish_copy(store, tmp_path, "bbb")
    store.set_alias("fn", "live", 1, {2: 0.1})

    with pytest.raises(VersionInUse, match="alias live points at it"):
        store.delete_version("fn", 2)
    assert [v.version for v in store.versions("fn")] == [1, 2]


def test_delete_alias(store: VersionStore, tmp_path: Path) -> None:
    publish_copy(store, tmp_path, "aaa")
    store.set_alias("fn", "live", 1)
    store.set_alias("fn", "beta", 1)

    removed = store.delete_alias("fn", "live")

    assert (removed.name, removed.version) == ("live", "1")
    assert [a.name for a in store.aliases("fn")] == ["beta"]
    with pytest.raises(QualifierNotFound, match="has no alias 'live'; its aliases: beta"):
        store.delete_alias("fn", "live")
