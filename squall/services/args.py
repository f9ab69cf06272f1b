"""Reading the JSON arguments of a data-service operation, with errors that name the argument."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import decimal
import difflib
import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from squall.services.errors import InvalidParameter

T = TypeVar("T")
_MISSING: Any = object()


class Args:
    """The arguments of one operation call; each getter raises InvalidParameter naming the argument."""

    def __init__(self, operation: str, values: Mapping[str, Any]) -> None:
        self.operation = operation
        self.values = dict(values)

    def _get(self, name: str, default: Any, kinds: tuple[type, ...], expected: str) -> Any:
        value = self.values.get(name, _MISSING)
        if value is _MISSING or value is None:
            if default is _MISSING:
                raise InvalidParameter(f"{self.operation}: argument {name!r} is missing, expected {expected}")
            return default
        # bool is an int in Python, but never a valid count or size.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise InvalidParameter(f"{self.operation}: argument {name!r} is {value!r}, expected {expected}")
        return value

    def text(self, name: str, default: Any = _MISSING) -> Any:
        return self._get(name, default, (str,), "a string")

    def integer(self, name: str, default: Any = _MISSING) -> Any:
        return self._get(name, default, (int,), "a whole number")

    def number(self, name: str, default: Any = _MISSING) -> Any:
        return self._get(name, default, (int, float), "a number")

    def flag(self, name: str, default: Any = _MISSING) -> Any:
        return self._get(name, default, (bool,), "true or false")

    def mapping(self, name: str, default: Any = _MISSING) -> Any:
        return self._get(name, default, (dict,), "a JSON object")

    def sequence(self, name: str, default: Any = _MISSING) -> Any:
        return self._get(name, default, (list,), "a JSON array")

    def anything(self, name: str, default: Any = _MISSING) -> Any:
        value = self.values.get(name, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise InvalidParameter(f"{self.operation}: argument {name!r} is missing")
            return default
        return value

    def only(self, *known: str) -> None:
        """Raise InvalidParameter naming the first key outside `known`, and the closest known one."""
        for name in self.values:
            if name not in known:
                close = difflib.get_close_matches(str(name), known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise InvalidParameter(
                    f"{self.operation}: unknown key {name!r}{hint}; valid keys: {', '.join(known)}"
                )

    def binary(self, name: str, default: Any = _MISSING) -> Any:
        """Read bytes sent as a base64 string."""
        value = self.text(name, default)
        if value is default and not isinstance(value, str):
            return value
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameter(f"{self.operation}: argument {name!r} is not valid base64") from None


def to_json(value: Any) -> Any:
    """Convert a service's result (dataclasses, enums, bytes, Decimals, sets) to JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_json(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(item) for item in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value
