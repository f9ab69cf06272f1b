"""Search in invocation logs: a substring, and fields of the JSON lines a function wrote.

A log entry is the whole log of one invocation (START, the function's output,
END, REPORT). A filter matches lines: a line matches when it contains the
substring and, if fields are given, is a JSON object with every field. An
entry matches when at least one of its lines does, so `squall logs` shows
whole invocations and their matching lines.

Powertools' Logger and `print(json.dumps({...}))` both write one JSON object
per line, which is what the field filter reads.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_FIELDS = 10
# json.dumps escapes quotes, backslashes, control characters and, by default,
# everything beyond ASCII. A substring made only of these characters is
# written the same way inside JSON text, so the store may look for it in the
# raw text before parsing any line.
_JSON_SAFE = re.compile(r"[A-Za-z0-9 _.:@+-]+")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """A condition on one field of a JSON log line: `path` equals `value`.

    `path` is a top-level key or a dotted path into nested objects
    ("order.id"). A key that itself contains dots is matched first.
    """

    path: str
    value: str

    def __post_init__(self) -> None:
        if not self.path or self.path.startswith(".") or self.path.endswith(".") or ".." in self.path:
            raise ValueError(
                f"invalid field {self.path!r}={self.value!r}: expected KEY=VALUE with a key"
                " or a dotted path such as level=ERROR or order.id=7"
            )

    def matches(self, document: dict[str, Any]) -> bool:
        """Return True when `document` has the field and its value reads as `value`."""
        found = _lookup(document, self.path)
        if found is _MISSING:
            return False
        number = _number(self.value)
        if number is not None and isinstance(found, (int, float)) and not isinstance(found, bool):
            # As CloudWatch's filter patterns do, numbers compare by value: 1.50 matches 1.5.
            return found == number
        return _as_text(found) == self.value

    def text_hints(self) -> list[str]:
        """Return substrings that any matching raw line must contain, for a cheap pre-filter."""
        hints = []
        last_key = self.path.rsplit(".", 1)[-1]
        # A number may be written otherwise in the line (1.5 for 1.50), so only its key is a hint.
        for text in (last_key,) if _number(self.value) is not None else (last_key, self.value):
            if text and _JSON_SAFE.fullmatch(text):
                hints.append(text)
        return hints


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Conditions on the lines of a log entry; see the module docstring."""

    contains: str | None = None
    fields: tuple[FieldMatch, ...] = ()

    def __post_init__(self) -> None:
        if self.contains == "":
            raise ValueError("invalid filter '': expected a non-empty substring")
        if len(self.fields) > MAX_FIELDS:
            raise ValueError(f"too many field filters: {len(self.fields)}; at most {MAX_FIELDS} are allowed")

    @property
    def active(self) -> bool:
        return self.contains is not None or bool(self.fields)

    def text_hints(self) -> list[str]:
        """Return substrings that every matching entry's text contains."""
        hints = [self.contains] if self.contains is not None else []
        for field in self.fields:
            hints.extend(field.text_hints())
        return hints

    def line_matches(self, line: str) -> bool:
        if self.contains is not None and self.contains not in line:
            return False
        if not self.fields:
            return True
        document = _parse_object(line)
        if document is None:
            return False
        return all(field.matches(document) for field in self.fields)

    def matching_lines(self, text: str) -> list[str]:
        """Return the lines of `text` that match, without their line endings."""
        return [line for line in text.splitlines() if self.line_matches(line)]

    def entry_matches(self, text: str) -> bool:
        return any(self.line_matches(line) for line in text.splitlines())


def parse_field(text: str) -> FieldMatch:
    """Parse "KEY=VALUE" into a FieldMatch; the value may be empty and may contain "=".

    Raises ValueError naming `text` when it has no "=" or no key.
    """
    path, separator, value = text.partition("=")
    if not separator:
        raise ValueError(
            f"invalid field {text!r}: expected KEY=VALUE, such as level=ERROR or order.id=7"
        )
    return FieldMatch(path.strip(), value)


def build_filter(contains: str | None, fields: Sequence[str]) -> LogFilter | None:
    """Build a LogFilter from a substring and "KEY=VALUE" texts; None when both are empty.

    Raises ValueError for an invalid field or an empty substring.
    """
    parsed = tuple(parse_field(field) for field in fields)
    log_filter = LogFilter(contains=contains, fields=parsed)
    return log_filter if log_filter.active else None


def _parse_object(line: str) -> dict[str, Any] | None:
    stripped = line.strip()
    # Most lines are not JSON objects, so skip the parser for them.
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        document = json.loads(stripped)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _lookup(document: dict[str, Any], path: str) -> Any:
    if path in document:
        return document[path]
    current: Any = document
    for key in path.split("."):
        if isinstance(current, list) and key.isdigit() and int(key) < len(current):
            # A number indexes a list, as in "batchItemFailures.0.itemIdentifier".
            current = current[int(key)]
        elif isinstance(current, dict) and key in current:
            current = current[key]
        else:
            return _MISSING
    return current


def _as_text(value: Any) -> str:
    """Write a JSON value as a user types it on the command line: ERROR, 7, true, null."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        # A float such as 7.0 matches "7", as a user reading the line would expect.
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _number(text: str) -> float | None:
    """Return the number a field value on the command line spells, or None for other text."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
