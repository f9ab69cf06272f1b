"""Lambda event filtering for queue, stream and table-stream triggers.

A trigger may carry up to five filter patterns, each a JSON object in the
syntax Lambda shares with EventBridge. A record reaches the function when it
matches at least one of them. A queue trigger deletes the messages that match
none, and a stream trigger moves its checkpoint past such records, as Lambda
does.

The rules of a pattern, as AWS documents them for Lambda event filtering and
EventBridge event patterns:

- the fields of a pattern object must all match (AND), and a list of values
  and rules under a field matches when one of them does (OR);
- `"$or": [pattern, ...]` at any level matches when one of its patterns does;
- a leaf rule is a value to equal exactly (string, number, true, false or
  null), or one of `prefix`, `suffix`, `equals-ignore-case`, `wildcard`,
  `anything-but`, `numeric` and `exists`;
- a list in the record matches a rule when one of its items does;
- strings are compared character by character, and numbers outside a
  `numeric` rule by their JSON text, so 300 does not equal 300.0.

Each source filters a view of its record. An SQS record has its `body`
parsed when the body is JSON. A DynamoDB Streams record is the one the
function gets. A Kinesis record gives its `kinesis` fields, with `data`
decoded from base64 and parsed as JSON.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from squall.manifest.spec import ServiceSpec

# Lambda's default quota of filters per event source mapping, and the
# maximum length of one pattern (FilterCriteria.Filters[].Pattern).
MAX_FILTERS = 5
MAX_PATTERN_CHARS = 4096

OR_KEY = "$or"
_STRING_OPERATORS = ("prefix", "suffix", "equals-ignore-case", "wildcard")
_OPERATORS = (*_STRING_OPERATORS, "anything-but", "numeric", "exists")
_OPERATORS_TEXT = ", ".join(_OPERATORS)
_LOWER_BOUNDS = (">", ">=")
_UPPER_BOUNDS = ("<", "<=")
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda value, bound: value == bound,
    "<": lambda value, bound: value < bound,
    "<=": lambda value, bound: value <= bound,
    ">": lambda value, bound: value > bound,
    ">=": lambda value, bound: value >= bound,
}

PatternPath = tuple[str | int, ...]


class InvalidFilterPattern(ValueError):
    """A filter pattern that Lambda would reject, with the `path` of the bad part inside the pattern."""

    def __init__(self, path: PatternPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class _NotJson:
    """The `data` of a stream record that is not JSON: present, but with no fields to match."""


NOT_JSON = _NotJson()


# Checking patterns ------------------------------------------------------------


def check_pattern(pattern: Any, data_key: str | None = None) -> str:
    """Check one filter pattern and return it as compact JSON text.

    `pattern` is a mapping, as squall.yml and serverless.yml write it, or JSON
    text, as SAM's `Pattern` is. `data_key` names the field that contains a
    stream record's data (`data` for Kinesis, `dynamodb` for DynamoDB),
    which Lambda matches only as JSON, so a pattern must give it fields
    rather than values. Raises InvalidFilterPattern.
    """
    if isinstance(pattern, str):
        text = pattern
        try:
            pattern = json.loads(text)
        except ValueError as error:
            raise InvalidFilterPattern((), f"expected a JSON object, got text that is not JSON ({error})") from None
    else:
        try:
            text = json.dumps(pattern, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as error:
            # YAML reads a bare 2024-01-31 as a date, which JSON has no form for.
            raise InvalidFilterPattern((), f"expected JSON values only (quote dates and times), got {error}") from None
    if len(text) > MAX_PATTERN_CHARS:
        raise InvalidFilterPattern(
            (), f"expected a pattern of at most {MAX_PATTERN_CHARS} characters as JSON, got {len(text)}"
        )

    _compile_object(pattern, ())
    if data_key is not None and isinstance(pattern, dict) and isinstance(pattern.get(data_key), list):
        raise InvalidFilterPattern(
            (data_key,),
            f"expected a mapping of the record's {data_key} fields, because Lambda filters stream data only as JSON, "
            f"got {_shown(pattern[data_key])}",
        )
    return json.dumps(pattern, separators=(",", ":"), ensure_ascii=False)


# The top-level fields of each source's record as filters see it (see the views
# below), by the `data_key` of check_pattern: None for SQS messages.
RECORD_FIELDS: dict[str | None, tuple[str, ...]] = {
    None: ("messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
           "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion"),
    "dynamodb": ("eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN",
                 "userIdentity"),
    "data": ("kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data", "approximateArrivalTimestamp",
             "encryptionType"),
}


def check_record_fields(pattern: Any, data_key: str | None, path: PatternPath = ()) -> None:
    """Raise InvalidFilterPattern for a top-level field the source's records never have.

    `pattern` is a checked pattern (see check_pattern), as a mapping or JSON
    text. Lambda accepts a pattern with such a field and then drops every
    record, which for a queue deletes every message, so the manifests reject
    a misspelt field.
    """
    if isinstance(pattern, str):
        pattern = json.loads(pattern)
    if not isinstance(pattern, dict):
        return
    fields = RECORD_FIELDS[data_key]
    for name, value in pattern.items():
        if name == OR_KEY and isinstance(value, list):
            for index, alternative in enumerate(value):
                check_record_fields(alternative, data_key, (*path, OR_KEY, index))
            continue
        if name not in fields:
            close = difflib.get_close_matches(str(name), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidFilterPattern(
                (*path, name),
                f"no record has a field {name!r}{hint}, so the pattern would drop every one; "
                f"expected one of: {', '.join(fields)}",
            )


_MAX_SHOWN_CHARS = 80


def _shown(value: Any) -> str:
    """Format a pattern's value for a message: as JSON, or by its kind when the JSON is long."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)
    if len(text) <= _MAX_SHOWN_CHARS or not isinstance(value, (dict, list)):
        return text
    return "a mapping" if isinstance(value, dict) else "a list"


def _expected(path: PatternPath, valid: str, value: Any) -> InvalidFilterPattern:
    return InvalidFilterPattern(path, f"expected {valid}, got {_shown(value)}")


# Compiled patterns ------------------------------------------------------------


class _Rule:
    """One entry of a field's list of values and rules."""

    def matches(self, values: list[Any]) -> bool:
        """Return whether the rule accepts the field, given its leaf values (none when it is absent)."""
        return any(self.accepts(value) for value in values)

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class _Equals(_Rule):
    expected: Any

    def accepts(self, value: Any) -> bool:
        return _same_value(self.expected, value)


@dataclass(frozen=True)
class _StringTest(_Rule):
    test: Callable[[str], bool]

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and self.test(value)


@dataclass(frozen=True)
class _AnythingBut(_Rule):
    excluded: Callable[[Any], bool]
    strings_only: bool  # a prefix, suffix, ignore-case or wildcard form applies to strings only

    def accepts(self, value: Any) -> bool:
        if self.strings_only and not isinstance(value, str):
            return False
        return not self.excluded(value)


@dataclass(frozen=True)
class _Numeric(_Rule):
    comparisons: tuple[tuple[str, float], ...]

    def accepts(self, value: Any) -> bool:
        # NOTE: a DynamoDB "N" attribute is a string in the stream record, so a
        # numeric rule never matches it here. Whether Lambda matches it is not documented.
        if not _is_number(value):
            return False
        return all(_COMPARISONS[operator](float(value), bound) for operator, bound in self.comparisons)


@dataclass(frozen=True)
class _Exists(_Rule):
    present: bool

    def matches(self, values: list[Any]) -> bool:
        return bool(values) == self.present


@dataclass(frozen=True)
class _Node:
    """A pattern object: fields that must all match, and `$or` groups of which one pattern must match."""

    fields: tuple[tuple[str, _Node | tuple[_Rule, ...]], ...]
    alternatives: tuple[_Node, ...] = ()


def _compile_object(pattern: Any, path: PatternPath) -> _Node:
    if not isinstance(pattern, dict) or not pattern:
        raise _expected(path, "a mapping of record fields to lists of values and rules", pattern)
    fields: list[tuple[str, _Node | tuple[_Rule, ...]]] = []
    alternatives: tuple[_Node, ...] = ()
    for key, value in pattern.items():
        key_path = (*path, str(key))
        if key == OR_KEY:
            if not isinstance(value, list) or not value:
                raise _expected(key_path, "a list of patterns, one of which must match", value)
            alternatives = tuple(_compile_object(item, (*key_path, index)) for index, item in enumerate(value))
        elif isinstance(value, dict):
            fields.append((str(key), _compile_object(value, key_path)))
        elif isinstance(value, list):
            if not value:
                raise _expected(key_path, "a list of at least one value or rule", value)
            fields.append((str(key), tuple(_compile_rule(item, (*key_path, index)) for index, item in enumerate(value))))
        else:
            raise _expected(
                key_path, f"a list of values and rules such as [{_shown(value)}], or a mapping of nested fields", value
            )
    return _Node(tuple(fields), alternatives)


def _compile_rule(rule: Any, path: PatternPath) -> _Rule:
    if rule is None or isinstance(rule, (str, bool)) or _is_number(rule):
        return _Equals(rule)
    if not isinstance(rule, dict) or len(rule) != 1:
        raise _expected(path, f"a value, or a mapping with one of the rules {_OPERATORS_TEXT}", rule)

    operator, argument = next(iter(rule.items()))
    operator_path = (*path, str(operator))
    if operator in ("prefix", "suffix"):
        return _StringTest(_affix_test(operator, argument, operator_path))
    if operator == "equals-ignore-case":
        folded = _string_argument(argument, operator_path).casefold()
        return _StringTest(lambda value: value.casefold() == folded)
    if operator == "wildcard":
        regex = _wildcard_regex(_string_argument(argument, operator_path), operator_path)
        return _StringTest(lambda value: regex.fullmatch(value) is not None)
    if operator == "anything-but":
        return _anything_but(argument, operator_path)
    if operator == "numeric":
        return _Numeric(_numeric_comparisons(argument, operator_path))
    if operator == "exists":
        if not isinstance(argument, bool):
            raise _expected(operator_path, "true or false", argument)
        return _Exists(argument)
    if operator == "cidr":
        raise InvalidFilterPattern(
            operator_path,
            f"cidr is an EventBridge rule that Lambda event filtering does not support, expected one of {_OPERATORS_TEXT}",
        )
    raise InvalidFilterPattern(operator_path, f"unknown rule {_shown(operator)}, expected one of {_OPERATORS_TEXT}")


def _string_argument(argument: Any, path: PatternPath) -> str:
    if not isinstance(argument, str):
        raise _expected(path, "a string", argument)
    return argument


def _affix_test(operator: str, argument: Any, path: PatternPath) -> Callable[[str], bool]:
    """Build the test of a prefix or suffix rule, which may also be {"equals-ignore-case": TEXT}."""
    ignore_case = isinstance(argument, dict)
    if ignore_case:
        if list(argument) != ["equals-ignore-case"]:
            raise _expected(path, 'a string, or a mapping with "equals-ignore-case"', argument)
        argument = _string_argument(argument["equals-ignore-case"], (*path, "equals-ignore-case"))
    affix = _string_argument(argument, path)
    if ignore_case:
        folded = affix.casefold()
        if operator == "prefix":
            return lambda value: value.casefold().startswith(folded)
        return lambda value: value.casefold().endswith(folded)
    if operator == "prefix":
        return lambda value: value.startswith(affix)
    return lambda value: value.endswith(affix)


def _wildcard_regex(pattern: str, path: PatternPath) -> re.Pattern[str]:
    """Translate a wildcard rule: "*" stands for any characters, and a backslash escapes "*" or itself."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            following = pattern[index + 1 : index + 2]
            if following not in ("*", "\\"):
                raise _expected(path, 'a wildcard where a backslash escapes only "*" or "\\"', pattern)
            parts.append(re.escape(following))
            index += 2
            continue
        if char == "*":
            if pattern[index + 1 : index + 2] == "*":
                raise _expected(path, "a wildcard without two * in a row", pattern)
            parts.append(".*")
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def _anything_but(argument: Any, path: PatternPath) -> _AnythingBut:
    """Compile `anything-but`: a value, a list of strings or of numbers, or one string rule to negate."""
    if isinstance(argument, dict):
        if len(argument) != 1 or next(iter(argument)) not in _STRING_OPERATORS:
            raise _expected(path, "a mapping with one of prefix, suffix, equals-ignore-case or wildcard", argument)
        operator, value = next(iter(argument.items()))
        operator_path = (*path, operator)
        if operator in ("prefix", "suffix"):
            test = _affix_test(operator, value, operator_path)
        else:
            # equals-ignore-case and wildcard also take a list of strings to exclude.
            texts = value if isinstance(value, list) and value else [value]
            tests = [_string_test(operator, text, (*operator_path, index)) for index, text in enumerate(texts)]
            test = _any_of(tests)
        return _AnythingBut(test, strings_only=True)

    values = argument if isinstance(argument, list) else [argument]
    strings = all(isinstance(value, str) for value in values)
    numbers = all(_is_number(value) for value in values)
    if not values or not (strings or numbers):
        raise _expected(path, "a string, a number, a list of strings or a list of numbers, or a string rule", argument)
    if numbers:
        bounds = frozenset(float(value) for value in values)
        return _AnythingBut(lambda candidate: _is_number(candidate) and float(candidate) in bounds, strings_only=False)
    excluded = frozenset(values)
    return _AnythingBut(lambda candidate: isinstance(candidate, str) and candidate in excluded, strings_only=False)


def _string_test(operator: str, text: Any, path: PatternPath) -> Callable[[str], bool]:
    text = _string_argument(text, path)
    if operator == "equals-ignore-case":
        folded = text.casefold()
        return lambda value: value.casefold() == folded
    regex = _wildcard_regex(text, path)
    return lambda value: regex.fullmatch(value) is not None


def _any_of(tests: list[Callable[[str], bool]]) -> Callable[[str], bool]:
    return lambda value: any(test(value) for test in tests)


def _numeric_comparisons(argument: Any, path: PatternPath) -> tuple[tuple[str, float], ...]:
    """Check `numeric`: ["=", N], one comparison, or a lower bound (> or >=) then an upper one (< or <=)."""
    valid = 'a list such as ["=", 100], [">", 0] or [">", 0, "<=", 5]'
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise _expected(path, valid, argument)
    comparisons: list[tuple[str, float]] = []
    for index in range(0, len(argument), 2):
        operator, bound = argument[index], argument[index + 1]
        if operator not in _COMPARISONS:
            raise _expected((*path, index), 'one of "=", "<", "<=", ">", ">="', operator)
        if not _is_number(bound) or not math.isfinite(bound):
            raise _expected((*path, index + 1), "a number", bound)
        comparisons.append((operator, float(bound)))
    if len(comparisons) == 2:
        (low_operator, low), (high_operator, high) = comparisons
        if low_operator not in _LOWER_BOUNDS or high_operator not in _UPPER_BOUNDS or low >= high:
            raise _expected(path, '[">" or ">=", LOW, "<" or "<=", HIGH] with LOW below HIGH', argument)
    return tuple(comparisons)


# Matching ---------------------------------------------------------------------


class _Missing:
    """A field the record does not have."""


_MISSING = _Missing()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same_value(expected: Any, value: Any) -> bool:
    if _is_number(expected):
        # Numbers compare by their JSON text, as Lambda documents: 300 is not 300.0.
        # NOTE: the text is Python's for the parsed number, so 3.0e2 equals 300.0
        # here, where Lambda's documentation says that they differ.
        return _is_number(value) and json.dumps(expected) == json.dumps(value)
    if isinstance(expected, bool) or expected is None:
        return value is expected
    return isinstance(value, str) and value == expected


def _leaf_values(value: Any) -> list[Any]:
    """Return the values a field's rules test: none for an absent field or an object, each item of a list."""
    if isinstance(value, (_Missing, _NotJson, dict)):
        return []
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaf_values(item)]
    return [value]


def _matches_node(node: _Node, value: Any) -> bool:
    if not isinstance(value, (dict, _Missing)):
        # A pattern's nested fields never match a string, number or non-JSON data.
        return False
    for key, expected in node.fields:
        child = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
        if isinstance(expected, _Node):
            if not _matches_child(expected, child):
                return False
        elif not any(rule.matches(_leaf_values(child)) for rule in expected):
            return False
    return not node.alternatives or any(_matches_node(option, value) for option in node.alternatives)


def _matches_child(node: _Node, child: Any) -> bool:
    if isinstance(child, list):
        # Nested fields under a list must all match within one of its items.
        items = [item for item in child if isinstance(item, dict)]
        return any(_matches_node(node, item) for item in items) if items else _matches_node(node, _MISSING)
    return _matches_node(node, child)


class FilterCriteria:
    """The compiled filter patterns of one trigger, which let a record pass when it matches any of them."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self._nodes = tuple(_compile_object(json.loads(pattern), ()) for pattern in patterns)

    def matches(self, view: Mapping[str, Any]) -> bool:
        """Return whether a record's filter view (see the *_filter_view functions) matches a pattern."""
        return any(_matches_node(node, view) for node in self._nodes)


def compile_filters(patterns: Sequence[str]) -> FilterCriteria | None:
    """Compile a trigger's checked patterns, or return None when it has none, so that every record passes."""
    return FilterCriteria(patterns) if patterns else None


# Record views -----------------------------------------------------------------


def sqs_filter_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return an SQS event record as filters see it: its `body` parsed when the body is JSON.

    A JSON body then matches only nested fields (`body: {field: [...]}`),
    and any other body only values (`body: [...]`), so a pattern written for
    the other form drops the message, as Lambda's does.
    """
    view = dict(record)
    body = record.get("body")
    if isinstance(body, str):
        try:
            view["body"] = json.loads(body)
        except ValueError:
            pass
    return view


def kinesis_filter_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return a Kinesis event record's `kinesis` fields as filters see them, with `data` decoded and parsed.

    Data that is not JSON matches no pattern that names `data`. Lambda's
    documentation places metadata such as `partitionKey` beside `data` at
    the top of a pattern, so the record's outer fields (`eventSource`, ...)
    are not part of the view.
    """
    fields = dict(record.get("kinesis") or {})
    try:
        fields["data"] = json.loads(base64.b64decode(fields.get("data", ""), validate=True))
    except (binascii.Error, ValueError):
        fields["data"] = NOT_JSON
    return fields


def dynamodb_filter_view(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return a DynamoDB Streams event record as filters see it: as the function gets it."""
    return record


def queue_filter_warnings(service: ServiceSpec) -> list[str]:
    """Warn about queue filter patterns on fields other than `body`, one line per trigger.

    AWS documents that SQS event source mappings filter on the `body` key
    only. Squall matches the other fields of the record too, so such a
    pattern may select other messages on AWS.
    """
    # The manifest readers import this module, so the spec is imported at call time.
    from squall.manifest.spec import QueueTrigger

    warnings = []
    for spec in service.functions.values():
        for trigger in spec.triggers:
            if not isinstance(trigger, QueueTrigger) or not trigger.filter_patterns:
                continue
            fields = sorted({name for text in trigger.filter_patterns for name in _top_level_fields(json.loads(text))} - {"body"})
            if fields:
                warnings.append(
                    f"{service.function_key(spec.name, 'events')}: the filter patterns of queue {trigger.queue!r} match "
                    f"{', '.join(fields)}, but Lambda filters SQS messages on body only; Squall matches those fields, "
                    "so the patterns may select other messages on AWS"
                )
    return warnings


def _top_level_fields(pattern: Any) -> set[str]:
    if not isinstance(pattern, dict):
        return set()
    fields = set()
    for name, value in pattern.items():
        if name == OR_KEY and isinstance(value, list):
            for alternative in value:
                fields |= _top_level_fields(alternative)
        else:
            fields.add(name)
    return fields
