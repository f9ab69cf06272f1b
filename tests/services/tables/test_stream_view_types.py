"""A table stream's view type: what each change record and Lambda event record carries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from squall.services.args import Args
from squall.services.errors import InvalidParameter, ResourceExists, ResourceNotFound, ServiceError
from squall.services.tables import api
from squall.services.tables.lambda_events import dynamodb_stream_event, table_arn
from squall.services.tables.model import ChangeEvent, StreamViewType, TableStore
from squall.services.tables.sqlite import _MIGRATIONS, SqliteTables

KEY = {"id": "u1"}
KEY_BYTES = len("id") + len("u1")
FIRST = {**KEY, "email": "ann@example.com"}
SECOND = {**KEY, "email": "bob@example.com"}
ITEM_BYTES = KEY_BYTES + len("email") + len("ann@example.com")

# For each view type: whether a record keeps the old image and the new image.
VIEW_TYPES = {
    StreamViewType.KEYS_ONLY: (False, False),
    StreamViewType.NEW_IMAGE: (False, True),
    StreamViewType.OLD_IMAGE: (True, False),
    StreamViewType.NEW_AND_OLD_IMAGES: (True, True),
}


def _write_all(store: TableStore) -> None:
    store.put("users", FIRST)
    store.put("users", SECOND)
    store.delete("users", KEY)


@pytest.mark.parametrize("view_type", list(VIEW_TYPES))
def test_change_records_keep_view_type_images(store: TableStore, view_type: StreamViewType) -> None:
    keeps_old, keeps_new = VIEW_TYPES[view_type]
    store.create_table("users", partition_key=("id", "S"), stream_view_type=view_type)

    _write_all(store)
    insert, modify, remove = store.changes("users")

    assert [change.event_name for change in (insert, modify, remove)] == [
        ChangeEvent.INSERT, ChangeEvent.MODIFY, ChangeEvent.REMOVE,
    ]
    assert {change.view_type for change in (insert, modify, remove)} == {view_type}
    assert [change.keys for change in (insert, modify, remove)] == [KEY, KEY, KEY]
    assert insert.old_image is None
    assert insert.new_image == (FIRST if keeps_new else None)
    assert modify.old_image == (FIRST if keeps_old else None)
    assert modify.new_image == (SECOND if keeps_new else None)
    assert remove.old_image == (SECOND if keeps_old else None)
    assert remove.new_image is None


@pytest.mark.parametrize("view_type", list(VIEW_TYPES))
def test_size_bytes_counts_kept_images(store: TableStore, view_type: StreamViewType) -> None:
    keeps_old, keeps_new = VIEW_TYPES[view_type]
    store.create_table("users", partition_key=("id", "S"), stream_view_type=view_type)

    _write_all(store)
    insert, modify, remove = store.changes("users")

    old_bytes = ITEM_BYTES if keeps_old else 0
    new_bytes = ITEM_BYTES if keeps_new else 0
    assert insert.size_bytes == KEY_BYTES + new_bytes
    assert modify.size_bytes == KEY_BYTES + old_bytes + new_bytes
    assert remove.size_bytes == KEY_BYTES + old_bytes


@pytest.mark.parametrize("view_type", list(VIEW_TYPES))
def test_lambda_event_fields_follow_view_type(store: TableStore, view_type: StreamViewType) -> None:
    keeps_old, keeps_new = VIEW_TYPES[view_type]
    info = store.create_table("users", partition_key=("id", "S"), stream_view_type=view_type.value)
    store.put("users", FIRST)
    store.put("users", SECOND)

    event = dynamodb_stream_event(store.changes("users"), table_arn("users"), stream_label=info.stream_label)
    insert, modify = (record["dynamodb"] for record in event["Records"])

    assert insert["Keys"] == {"id": {"S": "u1"}}
    assert modify["Keys"] == {"id": {"S": "u1"}}
    assert insert["StreamViewType"] == view_type.value
    assert modify["StreamViewType"] == view_type.value
    assert "OldImage" not in insert
    assert ("NewImage" in insert) is keeps_new
    assert ("OldImage" in modify) is keeps_old
    assert ("NewImage" in modify) is keeps_new
    if keeps_new:
        assert modify["NewImage"]["email"] == {"S": "bob@example.com"}
    if keeps_old:
        assert modify["OldImage"]["email"] == {"S": "ann@example.com"}
    assert modify["SizeBytes"] == KEY_BYTES + ITEM_BYTES * (keeps_old + keeps_new)


def test_keys_only_ttl_remove_keeps_user_identity(store: TableStore, clock) -> None:
    store.create_table("users", partition_key=("id", "S"), ttl_attribute="expires", stream_view_type="KEYS_ONLY")
    store.put("users", {**FIRST, "expires": int(clock()) - 1})

    assert store.expire() == 1
    remove = store.changes("users")[-1]

    assert remove.event_name is ChangeEvent.REMOVE
    assert remove.old_image is None
    assert remove.keys == KEY
    assert remove.user_identity is not None


def test_describe_shows_view_type(store: TableStore) -> None:
    store.create_table("users", partition_key=("id", "S"), stream_view_type="NEW_IMAGE")
    store.create_table("quiet", partition_key=("id", "S"), stream=False, stream_view_type="KEYS_ONLY")

    users = store.describe_table("users")
    quiet = store.describe_table("quiet")

    assert users.stream_enabled is True
    assert users.stream_view_type is StreamViewType.NEW_IMAGE
    assert quiet.stream_enabled is False
    assert quiet.stream_view_type is None


def test_default_view_type_is_both_images(store: TableStore) -> None:
    info = store.create_table("users", partition_key=("id", "S"))

    assert info.stream_view_type is StreamViewType.NEW_AND_OLD_IMAGES


def test_create_again_with_other_view_type_fails(store: TableStore) -> None:
    store.create_table("users", partition_key=("id", "S"), stream_view_type="KEYS_ONLY")

    same = store.create_table("users", partition_key=("id", "S"), stream_view_type="KEYS_ONLY")
    with pytest.raises(ResourceExists) as caught:
        store.create_table("users", partition_key=("id", "S"), stream_view_type="NEW_IMAGE")

    assert same.stream_view_type is StreamViewType.KEYS_ONLY
    assert "change stream KEYS_ONLY" in caught.value.message


def test_invalid_view_type_rejected(store: TableStore) -> None:
    with pytest.raises(InvalidParameter) as caught:
        store.create_table("users", partition_key=("id", "S"), stream_view_type="KEYS")

    assert "'KEYS'" in caught.value.message
    assert "KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES" in caught.value.message
    assert store.list_tables() == []


def test_view_type_change_keeps_written_records(store: TableStore) -> None:
    store.create_table("users", partition_key=("id", "S"))
    store.put("users", FIRST)

    updated = store.update_stream("users", True, "KEYS_ONLY")
    store.put("users", SECOND)
    before, after = store.changes("users")

    assert updated.stream_view_type is StreamViewType.KEYS_ONLY
    assert before.view_type is StreamViewType.NEW_AND_OLD_IMAGES
    assert before.new_image == FIRST
    assert after.view_type is StreamViewType.KEYS_ONLY
    assert after.old_image is None
    assert after.new_image is None


def test_stream_turned_off_drops_records(store: TableStore) -> None:
    store.create_table("users", partition_key=("id", "S"))
    store.put("users", FIRST)

    updated = store.update_stream("users", False)
    store.put("users", SECOND)

    assert updated.stream_enabled is False
    assert updated.stream_view_type is None
    with pytest.raises(ResourceNotFound) as caught:
        store.changes("users")
    assert "has no change stream" in caught.value.message

    store.update_stream("users", True, "NEW_IMAGE")
    store.delete("users", KEY)
    [remove] = store.changes("users")

    assert remove.event_name is ChangeEvent.REMOVE
    assert remove.view_type is StreamViewType.NEW_IMAGE
    assert remove.old_image is None


def test_update_stream_unchanged_is_no_op(store: TableStore) -> None:
    created = store.create_table("users", partition_key=("id", "S"), stream_view_type="OLD_IMAGE")
    store.put("users", FIRST)

    again = store.update_stream("users", True, StreamViewType.OLD_IMAGE)

    assert again == store.describe_table("users")
    assert again.stream_view_type is created.stream_view_type
    assert len(store.changes("users")) == 1


def test_update_stream_missing_table(store: TableStore) -> None:
    with pytest.raises(ResourceNotFound):
        store.update_stream("nobody", True, "KEYS_ONLY")


def test_view_type_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "tables.sqlite3"
    first = SqliteTables(path)
    first.create_table("users", partition_key=("id", "S"), stream_view_type="OLD_IMAGE")
    first.put("users", FIRST)
    first.close()

    reopened = SqliteTables(path)
    info = reopened.describe_table("users")
    [change] = reopened.changes("users")
    reopened.close()

    assert info.stream_view_type is StreamViewType.OLD_IMAGE
    assert change.view_type is StreamViewType.OLD_IMAGE


def test_upgrade_keeps_both_images_for_old_streams(tmp_path: Path) -> None:
    # A file written by the schema before view types: one table with a
    # stream and one change record, one table without a stream.
    path = tmp_path / "tables.sqlite3"
    db = sqlite3.connect(path)
    for script in _MIGRATIONS[:2]:
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("PRAGMA user_version=2")
    db.execute(
        "INSERT INTO tables (name, partition_name, partition_type, ttl_attribute, stream, created_at)"
        " VALUES ('users', 'id', 'S', NULL, 1, 1700000000), ('quiet', 'id', 'S', NULL, 0, 1700000000)"
    )
    db.execute(
        "INSERT INTO changes (table_id, event_name, keys, old_image, new_image, size_bytes, created_at, by_ttl)"
        """ VALUES (1, 'INSERT', '{"id": {"S": "u1"}}', NULL, '{"id": {"S": "u1"}}', 8, 1700000000, 0)"""
    )
    db.commit()
    db.close()

    store = SqliteTables(path)
    users = store.describe_table("users")
    quiet = store.describe_table("quiet")
    [change] = store.changes("users")
    store.put("users", FIRST)
    store.close()

    assert users.stream_view_type is StreamViewType.NEW_AND_OLD_IMAGES
    assert quiet.stream_view_type is None
    assert change.view_type is StreamViewType.NEW_AND_OLD_IMAGES
    assert change.new_image == KEY


def test_api_create_table_takes_view_type(store: TableStore) -> None:
    arguments = {"name": "users", "partition_key": {"name": "id", "type": "S"}, "stream_view_type": "NEW_IMAGE"}

    info = api.OPERATIONS["create_table"](store, Args("create_table", arguments))

    assert "stream_view_type" in api.ARGUMENTS["create_table"]
    assert info.stream_view_type is StreamViewType.NEW_IMAGE


def test_reopen_after_older_squall_keeps_view_types(tmp_path: Path) -> None:
    # An older Squall sets the file's version back to 2 without removing the
    # newer columns, and adds a table with a stream but no view type.
    path = tmp_path / "tables.sqlite3"
    store = SqliteTables(path)
    store.create_table("keys", partition_key=("id", "S"), stream_view_type=StreamViewType.KEYS_ONLY)
    store.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=2")
    db.execute(
        "INSERT INTO tables (name, partition_name, partition_type, ttl_attribute, stream, created_at)"
        " VALUES ('made_by_old', 'id', 'S', NULL, 1, 1700000000)"
    )
    db.commit()
    db.close()

    reopened = SqliteTables(path)
    keys_only = reopened.describe_table("keys")
    filled = reopened.describe_table("made_by_old")
    listed = reopened.list_tables()
    reopened.close()

    assert keys_only.stream_view_type is StreamViewType.KEYS_ONLY
    assert filled.stream_view_type is StreamViewType.NEW_AND_OLD_IMAGES
    assert sorted(listed) == ["keys", "made_by_old"]


def test_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "tables.sqlite3"
    SqliteTables(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={len(_MIGRATIONS) + 1}")
    db.commit()
    db.close()

    with pytest.raises(ServiceError, match="newer than the 3 this Squall knows: upgrade Squall"):
        SqliteTables(path)
