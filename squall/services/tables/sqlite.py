"""The embedded table store: every table in one SQLite file, in WAL mode.

Each item is one row keyed by (table id, encoded partition key, encoded sort
key). The encodings from `model.encode_key_value` make SQLite's BLOB order
equal DynamoDB's key order, so a query is a range scan of the primary key
index. Items are stored as DynamoDB typed JSON.

Every write and its change record commit in one transaction, so a consumer of
`changes` never misses a committed write nor reads one that rolled back.

Expired items (see `expire`) stay readable until the sweep deletes them, as
DynamoDB documents for its own TTL.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from squall.services.errors import (
    ConditionFailed,
    InvalidParameter,
    ResourceExists,
    ResourceNotFound,
    ServiceError,
    StorageFull,
)
from squall.services.tables.expressions import (
    Condition,
    ExpressionKind,
    Projection,
    check_unused_placeholders,
    parse_condition,
    parse_key_condition,
    parse_projection,
    parse_update,
)
from squall.services.tables.model import (
    DEFAULT_STREAM_VIEW_TYPE,
    MAX_CHANGES_PER_CALL,
    MAX_PAGE_BYTES,
    TTL_USER_IDENTITY,
    Change,
    ChangeEvent,
    Item,
    KeyAttribute,
    KeyType,
    Page,
    ReturnValues,
    StreamViewType,
    TableInfo,
    TableStoreClosed,
    change_size,
    check_item_size,
    check_key_value,
    check_limit,
    check_query_filter,
    encode_key_value,
    extract_key,
    parse_key_attribute,
    parse_return_values,
    parse_stream_view_type,
    same_item,
    select_return_values,
    stream_images,
    ttl_expiry,
    validate_attribute_name,
    validate_table_name,
)
from squall.services.tables.values import item_from_typed, item_to_typed, normalize_item

logger = logging.getLogger(__name__)

# Each entry upgrades the schema by one version: _MIGRATIONS[0] creates
# version 1 from an empty file. Append new entries, and keep each one safe to
# run again. An older Squall that opens the file sets its version back to its
# own latest one, and the next newer Squall then runs the later entries again.
# `_migrate` skips an ADD COLUMN whose column exists, and splits each script
# on ';', so no comment may contain one.
_MIGRATIONS: tuple[str, ...] = (
    """
    -- AUTOINCREMENT so that a deleted table's id, and with it the keys of its
    -- old rows, is never given to a new table.
    CREATE TABLE tables (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        partition_name TEXT NOT NULL,
        partition_type TEXT NOT NULL,
        sort_name TEXT,
        sort_type TEXT,
        ttl_attribute TEXT,
        stream INTEGER NOT NULL,
        created_at REAL NOT NULL,
        item_count INTEGER NOT NULL DEFAULT 0,
        size_bytes INTEGER NOT NULL DEFAULT 0
    );

    -- sort_key is the empty BLOB in a table without a sort key.
    CREATE TABLE items (
        table_id INTEGER NOT NULL,
        partition_key BLOB NOT NULL,
        sort_key BLOB NOT NULL,
        item TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        expires_at REAL,
        PRIMARY KEY (table_id, partition_key, sort_key)
    ) WITHOUT ROWID;
    CREATE INDEX items_expires_at ON items (expires_at) WHERE expires_at IS NOT NULL;

    -- AUTOINCREMENT so that a sequence number is never reused after a trim:
    -- a consumer polling with after_seq must never see one go back.
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        table_id INTEGER NOT NULL,
        event_name TEXT NOT NULL,
        keys TEXT NOT NULL,
        old_image TEXT,
        new_image TEXT,
        size_bytes INTEGER NOT NULL,
        created_at REAL NOT NULL,
        by_ttl INTEGER NOT NULL
    );
    CREATE INDEX changes_table_seq ON changes (table_id, seq);
    """,
    """
    -- The W3C trace context of the write, so that a table-stream trigger's
    -- invocation joins the writer's trace. NULL when none was sent.
    ALTER TABLE changes ADD COLUMN traceparent TEXT;
    """,
    """
    -- DynamoDB's StreamViewType: what a change record carries besides the
    -- keys. NULL while the table has no stream. Streams made before this
    -- column existed kept both images, and so did their records.
    ALTER TABLE tables ADD COLUMN stream_view_type TEXT;
    UPDATE tables SET stream_view_type = 'NEW_AND_OLD_IMAGES' WHERE stream = 1 AND stream_view_type IS NULL;
    ALTER TABLE changes ADD COLUMN view_type TEXT NOT NULL DEFAULT 'NEW_AND_OLD_IMAGES';
    """,
)

# A statement may follow comment lines of its script.
_ADD_COLUMN = re.compile(r"^\s*ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(\w+)", re.IGNORECASE | re.MULTILINE)


def _column_exists(db: sqlite3.Connection, statement: str) -> bool:
    """Tell whether `statement` adds a column that its table already has, as after a downgrade and upgrade."""
    match = _ADD_COLUMN.search(statement)
    if match is None:
        return False
    table, column = match.groups()
    return any(row[1] == column for row in db.execute(f"PRAGMA table_info({table})"))


# How long a statement waits for another process's write lock before SQLite
# reports SQLITE_BUSY.
_BUSY_TIMEOUT_S = 5.0

_TABLE_COLUMNS = (
    "id, name, partition_name, partition_type, sort_name, sort_type, ttl_attribute,"
    " stream, stream_view_type, created_at, item_count, size_bytes"
)
_CHANGE_COLUMNS = (
    "seq, event_name, keys, old_image, new_image, size_bytes, created_at, by_ttl, traceparent, view_type"
)

# Rows fetched per step of a query or scan. The cursor is read in steps
# because the filter may drop rows, so a page's row count is not known ahead.
_FETCH_ROWS = 256


class SqliteTables:
    """A `TableStore` in one SQLite file; see the module docstring.

    `path` must be on a local disk, because WAL needs shared memory. The
    methods may be called from several threads: one lock serializes them on
    one connection. `max_size_bytes` caps the database file, so that a write
    past the cap raises StorageFull as a full disk does.
    """

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float] = time.time,
        *,
        max_size_bytes: int | None = None,
    ) -> None:
        self._clock = clock
        self._path = path
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_S
        )
        self._closed = False
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a crash of the process; only
        # a power cut can lose the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        if max_size_bytes is not None:
            page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
            self._db.execute(f"PRAGMA max_page_count={max(1, max_size_bytes // page_size)}")
        self._migrate()

    def _migrate(self) -> None:
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(_MIGRATIONS):
                raise ServiceError(
                    f"table store {self._path} has schema version {version}, newer than the {len(_MIGRATIONS)}"
                    " this Squall knows: upgrade Squall, or use another data folder"
                )
            for script in _MIGRATIONS[version:]:
                for statement in script.split(";"):
                    if statement.strip() and not _column_exists(db, statement):
                        db.execute(statement)
            db.execute(f"PRAGMA user_version={len(_MIGRATIONS)}")

    def close(self) -> None:
        """Close the connection; later calls raise TableStoreClosed."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    # ------------------------------------------------------------ tables

    def create_table(
        self,
        name: str,
        partition_key: tuple[str, str],
        sort_key: tuple[str, str] | None = None,
        ttl_attribute: str | None = None,
        stream: bool = True,
        stream_view_type: StreamViewType | str = DEFAULT_STREAM_VIEW_TYPE,
    ) -> TableInfo:
        """Create a table, or return it if it exists with the same settings.

        With `stream`, every write adds a change record that carries what
        `stream_view_type` names; the view type is not used without it.
        Raises ResourceExists if a table of this name has other settings.
        """
        validate_table_name(name)
        partition = parse_key_attribute("partition key", partition_key)
        sort = parse_key_attribute("sort key", sort_key) if sort_key is not None else None
        if sort is not None and sort.name == partition.name:
            raise InvalidParameter(
                f"sort key attribute {sort.name!r} of table {name!r} is also the partition key:"
                " use two different attributes"
            )
        if ttl_attribute is not None:
            validate_attribute_name("TTL", ttl_attribute)
        view_type = parse_stream_view_type(stream_view_type) if stream else None

        with self._transaction() as db:
            existing = self._find_table(db, name)
            if existing is not None:
                info = existing[1]
                settings = (info.partition_key, info.sort_key, info.ttl_attribute, info.stream_view_type)
                if settings != (partition, sort, ttl_attribute, view_type):
                    raise ResourceExists(
                        f"table {name!r} exists with other settings: partition key"
                        f" {_describe_key(info.partition_key)}, sort key {_describe_key(info.sort_key)},"
                        f" TTL attribute {info.ttl_attribute or 'none'}, {_describe_stream(info.stream_view_type)}"
                    )
                return info
            db.execute(
                "INSERT INTO tables (name, partition_name, partition_type, sort_name, sort_type,"
                " ttl_attribute, stream, stream_view_type, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    partition.name,
                    partition.type.value,
                    sort.name if sort else None,
                    sort.type.value if sort else None,
                    ttl_attribute,
                    int(view_type is not None),
                    view_type.value if view_type is not None else None,
                    self._clock(),
                ),
            )
            created = self._find_table(db, name)
        logger.info("created table %s", name)
        return created[1] if created else self.describe_table(name)

    def update_stream(
        self,
        name: str,
        stream: bool,
        stream_view_type: StreamViewType | str = DEFAULT_STREAM_VIEW_TYPE,
    ) -> TableInfo:
        """Turn a table's change stream on or off, or change its view type, and return the table.

        This is DynamoDB's UpdateTable with a StreamSpecification, except that
        one call may change the view type, where DynamoDB needs the stream
        disabled first. Records written before a change of view type keep
        what they carry. Turning the stream off deletes the table's change
        records, because nothing can read them any more.

        NOTE: DynamoDB gives a stream turned on again, or with a new view
        type, a new label and so a new stream ARN. Here the label stays the
        table's, so a trigger on the table goes on from its checkpoint.
        """
        view_type = parse_stream_view_type(stream_view_type) if stream else None
        with self._transaction() as db:
            table_id, info = self._table(db, name)
            if info.stream_view_type == view_type:
                return info
            db.execute(
                "UPDATE tables SET stream = ?, stream_view_type = ? WHERE id = ?",
                (int(view_type is not None), view_type.value if view_type is not None else None, table_id),
            )
            if view_type is None:
                db.execute("DELETE FROM changes WHERE table_id = ?", (table_id,))
            updated = self._table_by_id(db, table_id)
        logger.info(
            "table %s: %s, was %s",
            name, _describe_stream(view_type), _describe_stream(info.stream_view_type),
        )
        return updated

    def describe_table(self, name: str) -> TableInfo:
        """Return a table's settings, item count and size; raise ResourceNotFound if missing."""
        with self._reading() as db:
            return self._table(db, name)[1]

    def list_tables(self) -> list[str]:
        """Return the table names in sorted order."""
        with self._reading() as db:
            return [row[0] for row in db.execute("SELECT name FROM tables ORDER BY name")]

    def delete_table(self, name: str) -> None:
        """Delete a table with its items and change records; raise ResourceNotFound if missing."""
        with self._transaction() as db:
            table_id, _ = self._table(db, name)
            db.execute("DELETE FROM items WHERE table_id = ?", (table_id,))
            db.execute("DELETE FROM changes WHERE table_id = ?", (table_id,))
            db.execute("DELETE FROM tables WHERE id = ?", (table_id,))
        logger.info("deleted table %s", name)

    # ------------------------------------------------------------ items

    def put(
        self,
        table: str,
        item: Mapping[str, Any],
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        return_old: bool = False,
        *,
        traceparent: str | None = None,
    ) -> Item | None:
        """Write a whole item, replacing any item with the same key.

        The change record keeps `traceparent`, the writer's W3C trace
        context. Returns the replaced item when `return_old` is set. Raises
        ConditionFailed when `condition` does not hold for the stored item
        (or for no item, when none is stored).
        """
        check = _parse_condition(condition, names, values)
        check_unused_placeholders(names, values, *_present(check))
        new = normalize_item(item)

        with self._transaction() as db:
            table_id, info = self._table(db, table)
            key = extract_key(info, new, exact=False)
            size = check_item_size(table, new)
            location = _locate(table_id, info, key)
            old, old_size = self._load(db, location)
            _check_condition(table, condition, check, old)
            self._store(db, info, location, old, old_size, key, new, size, traceparent)
        return old if return_old else None

    def get(
        self,
        table: str,
        key: Mapping[str, Any],
        projection: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> Item | None:
        """Return the item with this key, or None; `projection` picks attributes."""
        project = parse_projection(projection, names) if projection is not None else None
        check_unused_placeholders(names, None, *_present(project))
        normalized = normalize_item(key)
        with self._reading() as db:
            table_id, info = self._table(db, table)
            location = _locate(table_id, info, extract_key(info, normalized, exact=True))
            item, _ = self._load(db, location)
        if item is None or project is None:
            return item
        return project.apply(item)

    def delete(
        self,
        table: str,
        key: Mapping[str, Any],
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        return_old: bool = False,
        *,
        traceparent: str | None = None,
    ) -> Item | None:
        """Delete the item with this key; deleting a missing item is not an error.

        The change record keeps `traceparent`. Returns the deleted item when `return_old` is set. Raises
        ConditionFailed when `condition` does not hold.
        """
        check = _parse_condition(condition, names, values)
        check_unused_placeholders(names, values, *_present(check))
        normalized = normalize_item(key)

        with self._transaction() as db:
            table_id, info = self._table(db, table)
            exact_key = extract_key(info, normalized, exact=True)
            location = _locate(table_id, info, exact_key)
            old, old_size = self._load(db, location)
            _check_condition(table, condition, check, old)
            if old is not None:
                self._remove(db, info, location, old, old_size, exact_key, by_ttl=False, traceparent=traceparent)
        return old if return_old else None

    def update(
        self,
        table: str,
        key: Mapping[str, Any],
        update_expression: str,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        return_values: ReturnValues | str = ReturnValues.NONE,
        *,
        traceparent: str | None = None,
    ) -> Item | None:
        """Apply an update expression to the item with this key, creating it if missing.

        The change record keeps `traceparent`. The expression may not name a key attribute. Returns the attributes
        that `return_values` selects, or None when there are none.
        """
        choice = parse_return_values(return_values)
        change = parse_update(update_expression, names, values, check_unused=False)
        check = _parse_condition(condition, names, values)
        check_unused_placeholders(names, values, change, *_present(check))
        normalized = normalize_item(key)

        with self._transaction() as db:
            table_id, info = self._table(db, table)
            exact_key = extract_key(info, normalized, exact=True)
            _check_key_not_updated(info, change.attribute_names)
            location = _locate(table_id, info, exact_key)
            old, old_size = self._load(db, location)
            _check_condition(table, condition, check, old)

            new = change.apply(old if old is not None else exact_key)
            size = check_item_size(table, new)
            self._store(db, info, location, old, old_size, exact_key, new, size, traceparent)
        return select_return_values(choice, old, new, change.paths)

    # ------------------------------------------------------------ reads

    def query(
        self,
        table: str,
        key_condition: str,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        filter: str | None = None,
        forward: bool = True,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
        projection: str | None = None,
    ) -> Page:
        """Read one page of one partition's items in sort-key order.

        `limit` counts items read before the filter, and a page stops after
        1 MB of items, as in DynamoDB. Pass `last_evaluated_key` back as
        `start_key` for the next page.
        """
        check_limit("limit", limit)
        keep = _parse_filter(filter, names, values)
        project = parse_projection(projection, names, check_unused=False) if projection is not None else None

        with self._reading() as db:
            table_id, info = self._table(db, table)
            check_query_filter(info, keep)
            bounds = _query_bounds(info, key_condition, names, values, _present(keep, project))
            sql = "SELECT item, size_bytes FROM items WHERE table_id = ? AND partition_key = ?"
            parameters: list[Any] = [table_id, bounds.partition]
            sql += bounds.sort_sql
            parameters += bounds.sort_parameters

            if start_key is not None:
                start = extract_key(info, normalize_item(start_key), exact=True)
                start_partition, start_sort = _locate(table_id, info, start)[1:]
                if start_partition != bounds.partition:
                    raise InvalidParameter(
                        f"start_key {dict(start_key)!r} is invalid: its partition key differs"
                        " from the key condition's"
                    )
                sql += " AND sort_key > ?" if forward else " AND sort_key < ?"
                parameters.append(start_sort)

            sql += " ORDER BY sort_key" + ("" if forward else " DESC")
            sql, parameters = _with_row_limit(sql, parameters, limit)
            rows = db.execute(sql, parameters)
            return _read_page(info, rows, limit, keep, project)

    def scan(
        self,
        table: str,
        filter: str | None = None,
        limit: int | None = None,
        start_key: Mapping[str, Any] | None = None,
        projection: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Page:
        """Read one page of all of a table's items.

        Items come in key order (partition, then sort key). `limit` and the
        1 MB page cap work as in `query`.
        """
        check_limit("limit", limit)
        keep = _parse_filter(filter, names, values)
        project = parse_projection(projection, names, check_unused=False) if projection is not None else None
        check_unused_placeholders(names, values, *_present(keep, project))

        with self._reading() as db:
            table_id, info = self._table(db, table)
            sql = "SELECT item, size_bytes FROM items WHERE table_id = ?"
            parameters: list[Any] = [table_id]
            if start_key is not None:
                start = extract_key(info, normalize_item(start_key), exact=True)
                sql += " AND (partition_key, sort_key) > (?, ?)"
                parameters += _locate(table_id, info, start)[1:]
            sql += " ORDER BY partition_key, sort_key"
            sql, parameters = _with_row_limit(sql, parameters, limit)
            rows = db.execute(sql, parameters)
            return _read_page(info, rows, limit, keep, project)

    # ------------------------------------------------------------ TTL

    def expire(self, limit: int = 1000) -> int:
        """Delete up to `limit` expired items of all tables and return how many.

        An item is expired when its TTL attribute is a number of epoch
        seconds below the clock. Each deletion writes a REMOVE change record
        whose `user_identity` marks it as the TTL service's.
        """
        check_limit("limit", limit)
        now = self._clock()
        with self._transaction() as db:
            rows = db.execute(
                "SELECT table_id, partition_key, sort_key, item, size_bytes FROM items"
                " WHERE expires_at IS NOT NULL AND expires_at < ? ORDER BY expires_at LIMIT ?",
                (now, limit),
            ).fetchall()
            infos: dict[int, TableInfo] = {}
            for table_id, partition, sort, text, size in rows:
                if table_id not in infos:
                    infos[table_id] = self._table_by_id(db, table_id)
                info = infos[table_id]
                old = _decode(text)
                keys = extract_key(info, old, exact=False)
                self._remove(db, info, (table_id, partition, sort), old, size, keys, by_ttl=True)
        if rows:
            logger.info("deleted %d expired items", len(rows))
        return len(rows)

    # ------------------------------------------------------------ changes

    def changes(self, table: str, after_seq: int = 0, limit: int = 100) -> list[Change]:
        """Return up to `limit` change records with a sequence number above `after_seq`.

        Raises ResourceNotFound when the table was created with `stream=False`.
        """
        check_limit("limit", limit, MAX_CHANGES_PER_CALL)
        with self._reading() as db:
            table_id, info = self._table(db, table)
            _require_stream(info)
            rows = db.execute(
                f"SELECT {_CHANGE_COLUMNS} FROM changes WHERE table_id = ? AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (table_id, after_seq, limit),
            ).fetchall()
        return [_change_from_row(row) for row in rows]

    def trim_changes(self, table: str, up_to_seq: int) -> int:
        """Delete the change records with a sequence number up to `up_to_seq`; return how many."""
        with self._transaction() as db:
            table_id, info = self._table(db, table)
            _require_stream(info)
            cursor = db.execute(
                "DELETE FROM changes WHERE table_id = ? AND seq <= ?", (table_id, up_to_seq)
            )
            return cursor.rowcount

    # ------------------------------------------------------------ storage steps

    def _load(self, db: sqlite3.Connection, location: _Location) -> tuple[Item | None, int]:
        row = db.execute(
            "SELECT item, size_bytes FROM items"
            " WHERE table_id = ? AND partition_key = ? AND sort_key = ?",
            location,
        ).fetchone()
        if row is None:
            return None, 0
        return _decode(row[0]), row[1]

    def _store(
        self,
        db: sqlite3.Connection,
        info: TableInfo,
        location: _Location,
        old: Item | None,
        old_size: int,
        keys: Item,
        new: Item,
        size: int,
        traceparent: str | None = None,
    ) -> None:
        # DynamoDB Streams writes no record for a write that changes nothing,
        # and such a write need not touch the row either.
        if old is not None and same_item(old, new):
            return
        db.execute(
            "INSERT OR REPLACE INTO items"
            " (table_id, partition_key, sort_key, item, size_bytes, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (*location, _encode(new), size, ttl_expiry(info, new)),
        )
        db.execute(
            "UPDATE tables SET item_count = item_count + ?, size_bytes = size_bytes + ? WHERE id = ?",
            (0 if old is not None else 1, size - old_size, location[0]),
        )
        event = ChangeEvent.MODIFY if old is not None else ChangeEvent.INSERT
        self._record_change(db, info, location[0], event, keys, old, new, by_ttl=False, traceparent=traceparent)

    def _remove(
        self,
        db: sqlite3.Connection,
        info: TableInfo,
        location: _Location,
        old: Item,
        old_size: int,
        keys: Item,
        *,
        by_ttl: bool,
        traceparent: str | None = None,
    ) -> None:
        db.execute(
            "DELETE FROM items WHERE table_id = ? AND partition_key = ? AND sort_key = ?", location
        )
        db.execute(
            "UPDATE tables SET item_count = item_count - 1, size_bytes = size_bytes - ? WHERE id = ?",
            (old_size, location[0]),
        )
        self._record_change(
            db, info, location[0], ChangeEvent.REMOVE, keys, old, None, by_ttl=by_ttl, traceparent=traceparent
        )

    def _record_change(
        self,
        db: sqlite3.Connection,
        info: TableInfo,
        table_id: int,
        event: ChangeEvent,
        keys: Item,
        old: Item | None,
        new: Item | None,
        *,
        by_ttl: bool,
        traceparent: str | None = None,
    ) -> None:
        view_type = info.stream_view_type
        if view_type is None:
            return
        # Only what the view type names is stored, so a KEYS_ONLY stream
        # never contains a copy of the item's other attributes.
        old, new = stream_images(view_type, old, new)
        db.execute(
            "INSERT INTO changes (table_id, event_name, keys, old_image, new_image, size_bytes,"
            " created_at, by_ttl, traceparent, view_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                table_id,
                event.value,
                _encode(keys),
                _encode(old) if old is not None else None,
                _encode(new) if new is not None else None,
                change_size(keys, old, new),
                self._clock(),
                int(by_ttl),
                traceparent,
                view_type.value,
            ),
        )

    # ------------------------------------------------------------ connection

    def _find_table(self, db: sqlite3.Connection, name: str) -> tuple[int, TableInfo] | None:
        row = db.execute(f"SELECT {_TABLE_COLUMNS} FROM tables WHERE name = ?", (name,)).fetchone()
        return (row[0], _table_from_row(row)) if row is not None else None

    def _table(self, db: sqlite3.Connection, name: str) -> tuple[int, TableInfo]:
        found = self._find_table(db, name)
        if found is None:
            raise ResourceNotFound(f"table {name!r} not found: create it first")
        return found

    def _table_by_id(self, db: sqlite3.Connection, table_id: int) -> TableInfo:
        row = db.execute(f"SELECT {_TABLE_COLUMNS} FROM tables WHERE id = ?", (table_id,)).fetchone()
        return _table_from_row(row)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._check_open()
            try:
                yield self._db
            except sqlite3.OperationalError as error:
                _raise_if_storage_full(error)
                raise

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._check_open()
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    # SQLite may already have rolled back, e.g. after SQLITE_FULL.
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except (sqlite3.OperationalError, OSError) as error:
                _raise_if_storage_full(error)
                raise

    def _check_open(self) -> None:
        if self._closed:
            raise TableStoreClosed("the table store is closed: open a new SqliteTables to use its file")


_Location = tuple[int, bytes, bytes]


def _locate(table_id: int, info: TableInfo, key: Mapping[str, Any]) -> _Location:
    partition = encode_key_value(info.partition_key.type, key[info.partition_key.name])
    sort = b"" if info.sort_key is None else encode_key_value(info.sort_key.type, key[info.sort_key.name])
    return (table_id, partition, sort)


def _encode(item: Mapping[str, Any]) -> str:
    return orjson.dumps(item_to_typed(item)).decode()


def _decode(text: str) -> Item:
    return item_from_typed(orjson.loads(text))


def _describe_key(key: KeyAttribute | None) -> str:
    return "none" if key is None else f"{key.name!r} ({key.type.value})"


def _describe_stream(view_type: StreamViewType | None) -> str:
    return "no change stream" if view_type is None else f"change stream {view_type.value}"


def _table_from_row(row: tuple[Any, ...]) -> TableInfo:
    _, name, partition_name, partition_type, sort_name, sort_type, ttl, stream, view_type, created, count, size = row
    return TableInfo(
        name=name,
        partition_key=KeyAttribute(partition_name, KeyType(partition_type)),
        sort_key=KeyAttribute(sort_name, KeyType(sort_type)) if sort_name is not None else None,
        ttl_attribute=ttl,
        stream_enabled=bool(stream),
        stream_view_type=StreamViewType(view_type) if stream else None,
        created_at=created,
        item_count=count,
        size_bytes=size,
    )


def _change_from_row(row: tuple[Any, ...]) -> Change:
    seq, event, keys, old, new, size, created, by_ttl, traceparent, view_type = row
    return Change(
        seq=seq,
        event_name=ChangeEvent(event),
        keys=_decode(keys),
        old_image=_decode(old) if old is not None else None,
        new_image=_decode(new) if new is not None else None,
        size_bytes=size,
        created_at=created,
        user_identity=dict(TTL_USER_IDENTITY) if by_ttl else None,
        traceparent=traceparent,
        view_type=StreamViewType(view_type),
    )


def _require_stream(info: TableInfo) -> None:
    if not info.stream_enabled:
        raise ResourceNotFound(
            f"table {info.name!r} has no change stream: it was created with stream=False or its"
            " stream was turned off; turn it on with a stream view type, such as NEW_AND_OLD_IMAGES"
        )


def _parse_condition(
    text: str | None, names: Mapping[str, str] | None, values: Mapping[str, Any] | None
) -> Condition | None:
    if text is None:
        return None
    return parse_condition(text, names, values, check_unused=False)


def _parse_filter(
    text: str | None, names: Mapping[str, str] | None, values: Mapping[str, Any] | None
) -> Condition | None:
    if text is None:
        return None
    return parse_condition(text, names, values, kind=ExpressionKind.FILTER, check_unused=False)


def _present(*expressions: Condition | Projection | None) -> list[Condition | Projection]:
    return [expression for expression in expressions if expression is not None]


def _check_condition(table: str, text: str | None, check: Condition | None, old: Item | None) -> None:
    if check is not None and not check.evaluate(old):
        raise ConditionFailed(
            f"the conditional request failed: condition {text!r} does not hold for the"
            f" {'stored item' if old is not None else 'missing item'} in table {table!r}"
        )


def _check_key_not_updated(info: TableInfo, attributes: frozenset[str]) -> None:
    touched = sorted(attributes & set(info.key_names))
    if touched:
        raise InvalidParameter(
            f"update expression cannot change attribute {touched[0]!r} of table {info.name!r}:"
            " it is part of the key"
        )


def _raise_if_storage_full(error: sqlite3.OperationalError | OSError) -> None:
    if isinstance(error, OSError):
        full = error.errno == errno.ENOSPC
    else:
        full = (
            getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or "database or disk is full" in str(error)
        )
    if full:
        logger.error("table store write failed because storage is full: %s", error)
        raise StorageFull(f"the table store's storage is full ({error}): free disk space and retry") from error


@dataclass(frozen=True)
class _QueryBounds:
    """The encoded partition key and the SQL that selects a sort-key range."""

    partition: bytes
    sort_sql: str
    sort_parameters: list[bytes]


def _query_bounds(
    info: TableInfo,
    text: str,
    names: Mapping[str, str] | None,
    values: Mapping[str, Any] | None,
    others: list[Condition | Projection],
) -> _QueryBounds:
    sort_name = info.sort_key.name if info.sort_key is not None else None
    key_types = {key.name: key.type.value for key in (info.partition_key, info.sort_key) if key is not None}
    condition = parse_key_condition(
        text, names, values, info.partition_key.name, sort_name, key_types=key_types, check_unused=False
    )
    check_unused_placeholders(names, values, condition, *others)
    check_key_value(info, info.partition_key, condition.partition_value)
    partition = encode_key_value(info.partition_key.type, condition.partition_value)
    if condition.sort_op is None:
        return _QueryBounds(partition, "", [])
    if info.sort_key is None:
        raise InvalidParameter(f"key condition {text!r} is invalid: table {info.name!r} has no sort key")

    sort_key = info.sort_key
    encoded = []
    for value in condition.sort_values:
        check_key_value(info, sort_key, value)
        encoded.append(encode_key_value(sort_key.type, value))

    op = condition.sort_op
    if op in ("=", "<", "<=", ">", ">="):
        return _QueryBounds(partition, f" AND sort_key {op} ?", encoded[:1])
    if op == "between":
        if encoded[0] > encoded[1]:
            raise InvalidParameter(
                f"key condition {text!r} is invalid: BETWEEN needs the lower bound"
                f" {condition.sort_values[0]!r} first, then the upper bound {condition.sort_values[1]!r}"
            )
        return _QueryBounds(partition, " AND sort_key BETWEEN ? AND ?", encoded[:2])
    if op == "begins_with":
        if sort_key.type is KeyType.NUMBER:
            raise InvalidParameter(
                f"key condition {text!r} is invalid: begins_with needs a string or binary"
                f" sort key, and {sort_key.name!r} is a number"
            )
        following = _prefix_successor(encoded[0])
        if following is None:
            return _QueryBounds(partition, " AND sort_key >= ?", encoded[:1])
        return _QueryBounds(partition, " AND sort_key >= ? AND sort_key < ?", [encoded[0], following])
    raise InvalidParameter(f"key condition {text!r} has an unknown sort key operator {op!r}")


def _prefix_successor(prefix: bytes) -> bytes | None:
    """Return the smallest byte string above every string that starts with `prefix`."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def _with_row_limit(sql: str, parameters: list[Any], limit: int | None) -> tuple[str, list[Any]]:
    # `_read_page` reads one row past the limit to learn whether a next page exists.
    if limit is None:
        return sql, parameters
    return sql + " LIMIT ?", [*parameters, limit + 1]


def _read_page(
    info: TableInfo,
    rows: sqlite3.Cursor,
    limit: int | None,
    keep: Condition | None,
    project: Projection | None,
) -> Page:
    items: list[Item] = []
    scanned = 0
    scanned_bytes = 0
    last_item: Item | None = None
    stopped_early = False

    while not stopped_early:
        batch = rows.fetchmany(_FETCH_ROWS)
        if not batch:
            break
        for text, size in batch:
            # Stop before the row that would pass the limit or the 1 MB cap;
            # having read it shows that a next page exists.
            if (limit is not None and scanned >= limit) or (
                scanned > 0 and scanned_bytes + size > MAX_PAGE_BYTES
            ):
                stopped_early = True
                break
            item = _decode(text)
            scanned += 1
            scanned_bytes += size
            last_item = item
            if keep is not None and not keep.evaluate(item):
                continue
            items.append(project.apply(item) if project is not None else item)

    last_key = extract_key(info, last_item, exact=False) if stopped_early and last_item else None
    return Page(items=items, last_evaluated_key=last_key, count=len(items), scanned_count=scanned)
