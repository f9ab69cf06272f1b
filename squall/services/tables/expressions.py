"""DynamoDB's expression language: condition, filter, update, key condition and projection expressions.

Each `parse_*` function tokenizes and parses an expression with a small
recursive-descent parser, resolves its `#name` and `:value` placeholders, and
returns an object that evaluates or applies it to items in the normal form of
`values.py`. Placeholder values are Python values (convert typed JSON with
`values.from_typed` first).

Every error raises `InvalidParameter` with DynamoDB's wording where it is
known, e.g. `Invalid ConditionExpression: Syntax error; token: "-", near:
"a-b"`. As in DynamoDB, `near` quotes the bad token with one token each side.

A request with several expressions (an UpdateItem with an UpdateExpression and
a ConditionExpression, a Query with a KeyConditionExpression, a
FilterExpression and a ProjectionExpression) shares one set of placeholders,
and DynamoDB rejects a placeholder that none of them uses. Parse each with
`check_unused=False` and then call `check_unused_placeholders` with all of them.
"""

from __future__ import annotations

import copy
import enum
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from squall.services.errors import InvalidParameter
from squall.services.tables.values import (
    ALL_TYPES,
    SCALAR_TYPES,
    add_numbers,
    compare,
    format_path,
    normalize_value,
    subtract_numbers,
    type_name,
    values_equal,
)

logger = logging.getLogger(__name__)

MAX_EXPRESSION_BYTES = 4096
"""DynamoDB's limit on the length of one expression string."""

MAX_IN_OPERANDS = 100
"""DynamoDB's limit on the values one `IN` list compares against."""

MAX_PATH_DEPTH = 32
"""DynamoDB's limit on the elements of one document path."""

MAX_EXPRESSION_DEPTH = 100
"""Squall's own limit on nested parentheses, NOT and function calls in one expression."""

PathElement = str | int
DocumentPath = tuple[PathElement, ...]


class ExpressionKind(enum.Enum):
    """Request parameter an expression came from, named at the start of its error messages."""

    CONDITION = "ConditionExpression"
    FILTER = "FilterExpression"
    KEY_CONDITION = "KeyConditionExpression"
    UPDATE = "UpdateExpression"
    PROJECTION = "ProjectionExpression"


class ParsedExpression(Protocol):
    """Parsed expression as `check_unused_placeholders` reads it: the placeholders it uses."""

    @property
    def names_used(self) -> frozenset[str]: ...

    @property
    def values_used(self) -> frozenset[str]: ...


# Marks a path that does not resolve in an item.
_MISSING: Any = object()

# NOTE: DynamoDB also rejects its reserved words (such as `name` or `status`)
# as bare attribute names, but only these grammar keywords are rejected here.
_KEYWORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"})
_CONDITION_FUNCTIONS = frozenset(
    {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"}
)
_UPDATE_FUNCTIONS = frozenset({"if_not_exists", "list_append"})
_ALL_FUNCTIONS = _CONDITION_FUNCTIONS | _UPDATE_FUNCTIONS | {"size"}
_COMPARATORS = frozenset({"=", "<>", "<", "<=", ">", ">="})

# Type names in the messages DynamoDB gives for ADD and DELETE operands.
_LONG_TYPE_NAMES = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "BOOL": "BOOLEAN",
    "NULL": "NULL",
    "L": "LIST",
    "M": "MAP",
    "SS": "SET",
    "NS": "SET",
    "BS": "SET",
}


# ---------------------------------------------------------------- tokens


class TokenKind(enum.Enum):
    """Lexical classes of the expression language."""

    NAME = "name"
    NAME_REF = "name placeholder"
    VALUE_REF = "value placeholder"
    NUMBER = "number"
    SYMBOL = "symbol"
    END = "end of expression"


@dataclass(frozen=True)
class Token:
    """One token and its character offsets in the expression text."""

    kind: TokenKind
    text: str
    start: int
    end: int


_TOKEN_PATTERN = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<name_ref>\#[A-Za-z0-9_]+)
    |(?P<value_ref>:[A-Za-z0-9_]+)
    |(?P<number>[0-9]+)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<symbol><>|<=|>=|[=<>()\[\],.+-])
    """,
    re.VERBOSE,
)
_TOKEN_KINDS = {
    "name_ref": TokenKind.NAME_REF,
    "value_ref": TokenKind.VALUE_REF,
    "number": TokenKind.NUMBER,
    "name": TokenKind.NAME,
    "symbol": TokenKind.SYMBOL,
}


def _invalid(kind: ExpressionKind, detail: str) -> InvalidParameter:
    return InvalidParameter(f"Invalid {kind.value}: {detail}")


def _near(text: str, tokens: Sequence[Token], index: int) -> str:
    # DynamoDB quotes the offending token with its neighbours on each side.
    token = tokens[index]
    start = tokens[index - 1].start if index > 0 else token.start
    if token.kind is TokenKind.END:
        end = tokens[index - 1].end if index > 0 else token.end
    elif index + 1 < len(tokens) and tokens[index + 1].kind is not TokenKind.END:
        end = tokens[index + 1].end
    else:
        end = token.end
    return text[start:end]


def tokenize(text: str, kind: ExpressionKind) -> list[Token]:
    """Split an expression into tokens, ending with an END token.

    Raises `InvalidParameter` at the first character no token can start with.
    """
    tokens: list[Token] = []
    invalid_index: int | None = None
    position = 0
    while position < len(text):
        match = _TOKEN_PATTERN.match(text, position)
        if match is None:
            # Keep going, so the error can quote the token after the bad character.
            invalid_index = len(tokens) if invalid_index is None else invalid_index
            tokens.append(Token(TokenKind.SYMBOL, text[position], position, position + 1))
            position += 1
            continue
        group = match.lastgroup or "space"
        if group != "space":
            tokens.append(Token(_TOKEN_KINDS[group], match.group(), match.start(), match.end()))
        position = match.end()
    tokens.append(Token(TokenKind.END, "<EOF>", len(text), len(text)))

    if invalid_index is not None:
        bad = tokens[invalid_index].text
        raise _invalid(kind, f'Syntax error; token: "{bad}", near: "{_near(text, tokens, invalid_index)}"')
    return tokens


# ---------------------------------------------------------------- operands


def resolve_path(item: Mapping[str, Any] | None, path: DocumentPath) -> Any:
    """Return the value at `path` in `item`, or the `_MISSING` marker when there is none."""
    current: Any = item if item is not None else {}
    for element in path:
        if isinstance(element, int):
            if not isinstance(current, list) or element >= len(current):
                return _MISSING
            current = current[element]
        else:
            if not isinstance(current, dict) or element not in current:
                return _MISSING
            current = current[element]
    return current


def _describe_path(path: DocumentPath) -> str:
    # DynamoDB's messages list path elements in brackets: [a, b, [2]].
    return "[" + ", ".join(f"[{element}]" if isinstance(element, int) else element for element in path) + "]"


@dataclass(frozen=True)
class PathOperand:
    """A document path such as `a.b[2]`, with placeholders already resolved."""

    path: DocumentPath

    def value(self, item: Mapping[str, Any] | None) -> Any:
        return resolve_path(item, self.path)


@dataclass(frozen=True)
class ValueOperand:
    """An expression attribute value such as `:v`."""

    placeholder: str
    constant: Any

    def value(self, item: Mapping[str, Any] | None) -> Any:
        return self.constant


@dataclass(frozen=True)
class SizeOperand:
    """`size(path)`: the length of a string or binary, or the element count of a set, list or map."""

    path: DocumentPath

    def value(self, item: Mapping[str, Any] | None) -> Any:
        found = resolve_path(item, self.path)
        if found is _MISSING:
            return _MISSING
        kind = type_name(found)
        # NOTE: a string's size counts characters here; DynamoDB does not
        # document whether it counts characters or UTF-8 bytes.
        if kind in ("S", "B", "L", "M", "SS", "NS", "BS"):
            return Decimal(len(found))
        return _MISSING


@dataclass(frozen=True)
class IfNotExistsOperand:
    """`if_not_exists(path, operand)` in a SET action."""

    path: DocumentPath
    fallback: UpdateOperand

    def value(self, item: Mapping[str, Any] | None) -> Any:
        found = resolve_path(item, self.path)
        return found if found is not _MISSING else self.fallback.value(item)


@dataclass(frozen=True)
class ListAppendOperand:
    """`list_append(first, second)` in a SET action."""

    first: UpdateOperand
    second: UpdateOperand

    def value(self, item: Mapping[str, Any] | None) -> Any:
        first = _require_present(self.first.value(item))
        second = _require_present(self.second.value(item))
        if not isinstance(first, list) or not isinstance(second, list):
            raise InvalidParameter(
                "An operand in the update expression has an incorrect data type; "
                f"list_append needs two lists, got {type_name(first)} and {type_name(second)}"
            )
        return [*first, *second]


@dataclass(frozen=True)
class ArithmeticOperand:
    """`left + right` or `left - right` on numbers in a SET action."""

    operator: str
    left: UpdateOperand
    right: UpdateOperand

    def value(self, item: Mapping[str, Any] | None) -> Any:
        left = _require_present(self.left.value(item))
        right = _require_present(self.right.value(item))
        if type_name(left) != "N" or type_name(right) != "N":
            raise InvalidParameter(
                "An operand in the update expression has an incorrect data type; "
                f"{self.operator} needs two numbers, got {type_name(left)} and {type_name(right)}"
            )
        if self.operator == "+":
            return add_numbers(left, right, "result of +")
        return subtract_numbers(left, right, "result of -")


def _require_present(value: Any) -> Any:
    if value is _MISSING:
        raise InvalidParameter("The provided expression refers to an attribute that does not exist in the item")
    return value


Operand = PathOperand | ValueOperand | SizeOperand
UpdateOperand = PathOperand | ValueOperand | IfNotExistsOperand | ListAppendOperand | ArithmeticOperand


# ---------------------------------------------------------------- condition nodes


@dataclass(frozen=True)
class Comparison:
    """`left <op> right` with one of = <> < <= > >=."""

    operator: str
    left: Operand
    right: Operand

    def evaluate(self, item: Mapping[str, Any] | None) -> bool:
        return _compare(self.operator, self.left.value(item), self.right.value(item))


@dataclass(frozen=True)
class Between:
    """`operand BETWEEN low AND high`, both bounds included."""

    operand: Operand
    low: Operand
    high: Operand

    def evaluate(self, item: Mapping[str, Any] | None) -> bool:
        value = self.operand.value(item)
        return _compare(">=", value, self.low.value(item)) and _compare("<=", value, self.high.value(item))


@dataclass(frozen=True)
class InList:
    """`operand IN (a, b, ...)`."""

    operand: Operand
    candidates: tuple[Operand, ...]

    def evaluate(self, item: Mapping[str, Any] | None) -> bool:
        value = self.operand.value(item)
        return any(_compare("=", value, candidate.value(item)) for candidate in self.candidates)


@dataclass(frozen=True)
class FunctionCondition:
    """One of attribute_exists, attribute_not_exists, attribute_type, begins_with and contains."""

    function: str
    arguments: tuple[Operand, ...]

    def evaluate(self, item: Mapping[str, Any] | None) -> bool:
        found = [argument.value(item) for argument in self.arguments]
        if self.function == "attribute_exists":
            return found[0] is not _MISSING
        if self.function == "attribute_not_exists":
            return found[0] is _MISSING
        if any(value is _MISSING for value in found):
            return False
        if self.function == "attribute_type":
            return type_name(found[0]) == found[1]
        if self.function == "begins_with":
            return _begins_with(found[0], found[1])
        return _contains(found[0], found[1])


@dataclass(frozen=True)
class Not:
    """`NOT condition`."""

    operand: ConditionNode

    def evaluate(self, item: Mapping[str, Any] | None) -> bool:
        return not self.operand.evaluate(item)


@dataclass(frozen=True)
class And:
    """`a AND b AND ...`, kept flat so long chains need no deep recursion."""

    operands: tuple[ConditionNode, ...]

    def evaluate(self, item: Mapping[str, Any] | None) -> bool:
        return all(operand.evaluate(item) for operand in self.operands)


@dataclass(frozen=True)
class Or:
    """`a OR b OR ...`."""

    operands: tuple[ConditionNode, ...]

    def evaluate(self, item: Mapping[str, Any] | None) -> bool:
        return any(operand.evaluate(item) for operand in self.operands)


ConditionNode = Comparison | Between | InList | FunctionCondition | Not | And | Or


def _compare(operator: str, left: Any, right: Any) -> bool:
    # A missing operand or operands of different types never compare true,
    # except that they are not equal, so <> holds.
    if operator in ("=", "<>"):
        equal = left is not _MISSING and right is not _MISSING and values_equal(left, right)
        return equal if operator == "=" else not equal
    if left is _MISSING or right is _MISSING:
        return False
    left_type = type_name(left)
    if left_type != type_name(right) or left_type not in SCALAR_TYPES:
        return False
    order = compare(left, right)
    if operator == "<":
        return order < 0
    if operator == "<=":
        return order <= 0
    if operator == ">":
        return order > 0
    return order >= 0


def _begins_with(value: Any, prefix: Any) -> bool:
    if isinstance(value, str) and isinstance(prefix, str):
        return value.startswith(prefix)
    if isinstance(value, bytes) and isinstance(prefix, bytes):
        return value.startswith(prefix)
    return False


def _contains(container: Any, operand: Any) -> bool:
    kind = type_name(container)
    if kind == "S":
        return isinstance(operand, str) and operand in container
    if kind in ("SS", "NS", "BS"):
        return type_name(operand) == kind[0] and operand in container
    if kind == "L":
        return any(values_equal(element, operand) for element in container)
    return False


# ---------------------------------------------------------------- parser


class _Parser:
    """Recursive-descent parser over one expression's tokens; records the placeholders it uses."""

    def __init__(
        self,
        text: str,
        kind: ExpressionKind,
        names: Mapping[str, str] | None,
        values: Mapping[str, Any] | None,
    ) -> None:
        self.text = text
        self.kind = kind
        self.names = names or {}
        self.values = values or {}
        self.names_used: set[str] = set()
        self.values_used: set[str] = set()

        if not isinstance(text, str):
            raise _invalid(kind, f"expected the expression as a string, got {type(text).__name__}")
        if not text.strip():
            raise _invalid(kind, "The expression can not be empty;")
        size = len(text.encode("utf-8"))
        if size > MAX_EXPRESSION_BYTES:
            raise _invalid(
                kind,
                f"Expression size has exceeded the maximum allowed size; expression size: {size} bytes, "
                f"maximum: {MAX_EXPRESSION_BYTES} bytes",
            )
        self.tokens = tokenize(text, kind)
        self.position = 0
        self.depth = 0
        self.matching_paren = _match_parentheses(self.tokens)

    # -- token helpers

    def peek(self, offset: int = 0) -> Token:
        index = min(self.position + offset, len(self.tokens) - 1)
        return self.tokens[index]

    def advance(self) -> Token:
        token = self.tokens[self.position]
        if token.kind is not TokenKind.END:
            self.position += 1
        return token

    def at_symbol(self, symbol: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind is TokenKind.SYMBOL and token.text == symbol

    def at_keyword(self, keyword: str) -> bool:
        token = self.peek()
        return token.kind is TokenKind.NAME and token.text.upper() == keyword

    def at_function(self) -> bool:
        return self.peek().kind is TokenKind.NAME and self.at_symbol("(", 1) and not self.at_keyword_any()

    def at_keyword_any(self) -> bool:
        token = self.peek()
        return token.kind is TokenKind.NAME and token.text.upper() in _KEYWORDS

    def expect_symbol(self, symbol: str) -> Token:
        if not self.at_symbol(symbol):
            raise self.syntax_error()
        return self.advance()

    def expect_end(self) -> None:
        if self.peek().kind is not TokenKind.END:
            raise self.syntax_error()

    def syntax_error(self, index: int | None = None) -> InvalidParameter:
        where = self.position if index is None else index
        token = self.tokens[where]
        near = _near(self.text, self.tokens, where)
        return _invalid(self.kind, f'Syntax error; token: "{token.text}", near: "{near}"')

    def error(self, detail: str) -> InvalidParameter:
        return _invalid(self.kind, detail)

    # -- placeholders and paths

    def resolve_name(self, token: Token) -> str:
        if token.text not in self.names:
            raise self.error(
                f"An expression attribute name used in the document path is not defined; attribute name: {token.text}"
            )
        self.names_used.add(token.text)
        return self.names[token.text]

    def resolve_value(self, token: Token) -> ValueOperand:
        if token.text not in self.values:
            raise self.error(
                f"An expression attribute value used in expression is not defined; attribute value: {token.text}"
            )
        self.values_used.add(token.text)
        return ValueOperand(token.text, self.values[token.text])

    def parse_path(self) -> DocumentPath:
        elements: list[PathElement] = [self.parse_path_name()]
        while True:
            if self.at_symbol("."):
                self.advance()
                elements.append(self.parse_path_name())
            elif self.at_symbol("["):
                self.advance()
                index = self.peek()
                if index.kind is not TokenKind.NUMBER:
                    raise self.syntax_error()
                self.advance()
                self.expect_symbol("]")
                elements.append(int(index.text))
            else:
                break
        if len(elements) > MAX_PATH_DEPTH:
            raise self.error(
                f"The document path {format_path(elements)} has {len(elements)} elements: "
                f"a document path may have at most {MAX_PATH_DEPTH}"
            )
        return tuple(elements)

    def parse_path_name(self) -> str:
        token = self.peek()
        if token.kind is TokenKind.NAME_REF:
            self.advance()
            return self.resolve_name(token)
        if token.kind is TokenKind.NAME and token.text.upper() not in _KEYWORDS:
            self.advance()
            return token.text
        raise self.syntax_error()

    def parse_arguments(self, parse_argument: Callable[[], Any]) -> list[Any]:
        self.expect_symbol("(")
        self.descend()
        arguments = [parse_argument()]
        while self.at_symbol(","):
            self.advance()
            arguments.append(parse_argument())
        self.expect_symbol(")")
        self.depth -= 1
        return arguments

    def descend(self) -> None:
        # Bounds the parser's recursion, so a deeply nested expression gets
        # an InvalidParameter instead of a RecursionError.
        self.depth += 1
        if self.depth > MAX_EXPRESSION_DEPTH:
            raise self.error(
                f"The expression nests parentheses, NOT and functions more than {MAX_EXPRESSION_DEPTH} levels deep; "
                "simplify it"
            )

    def check_function_name(self, token: Token, allowed: frozenset[str]) -> None:
        if token.text not in _ALL_FUNCTIONS:
            raise self.error(f"Invalid function name; function: {token.text}")
        if token.text not in allowed:
            raise self.error(
                f"The function is not allowed to be used this way in an expression; function: {token.text}"
            )

    def check_operand_count(self, function: str, arguments: Sequence[Any], expected: int) -> None:
        if len(arguments) != expected:
            raise self.error(
                f"Incorrect number of operands for operator or function; operator or function: {function}, "
                f"number of operands: {len(arguments)}"
            )

    def require_path(self, function: str, argument: Any) -> DocumentPath:
        if not isinstance(argument, PathOperand):
            raise self.error(f"Operator or function requires a document path; operator or function: {function}")
        return argument.path

    def check_value_type(self, operator: str, operand: Any, allowed: Iterable[str]) -> None:
        # Only constants can be checked before evaluation; paths are checked per item.
        if isinstance(operand, ValueOperand):
            kind = type_name(operand.constant)
            if kind not in allowed:
                raise self.error(
                    f"Incorrect operand type for operator or function; operator or function: {operator}, "
                    f"operand type: {kind}"
                )

    # -- conditions

    def parse_condition(self) -> ConditionNode:
        operands = [self.parse_and()]
        while self.at_keyword("OR"):
            self.advance()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> ConditionNode:
        operands = [self.parse_not()]
        while self.at_keyword("AND"):
            self.advance()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_not(self) -> ConditionNode:
        if not self.at_keyword("NOT"):
            return self.parse_primary()
        self.advance()
        self.descend()
        node = Not(self.parse_not())
        self.depth -= 1
        return node

    def parse_primary(self) -> ConditionNode:
        if self.at_symbol("("):
            return self.parse_group()
        if self.at_function() and self.peek().text in _CONDITION_FUNCTIONS:
            return self.parse_function_condition()

        operand = self.parse_operand()
        if self.peek().kind is TokenKind.SYMBOL and self.peek().text in _COMPARATORS:
            operator = self.advance().text
            right = self.parse_operand()
            if operator not in ("=", "<>"):
                self.check_value_type(operator, operand, SCALAR_TYPES)
                self.check_value_type(operator, right, SCALAR_TYPES)
            return Comparison(operator, operand, right)
        if self.at_keyword("BETWEEN"):
            return self.parse_between(operand)
        if self.at_keyword("IN"):
            return self.parse_in(operand)
        if isinstance(operand, SizeOperand):
            raise self.error("The function is not allowed to be used this way in an expression; function: size")
        raise self.syntax_error()

    def parse_group(self) -> ConditionNode:
        open_index = self.position
        self.advance()
        inner_index = open_index + 1
        if self.at_symbol("(") and self.matching_paren.get(inner_index, -1) + 1 == self.matching_paren.get(open_index):
            raise self.error("The expression has redundant parentheses;")
        self.descend()
        node = self.parse_condition()
        self.expect_symbol(")")
        self.depth -= 1
        return node

    def parse_between(self, operand: Operand) -> ConditionNode:
        self.advance()
        low = self.parse_operand()
        if not self.at_keyword("AND"):
            raise self.syntax_error()
        self.advance()
        high = self.parse_operand()
        for bound in (operand, low, high):
            self.check_value_type("BETWEEN", bound, SCALAR_TYPES)
        if isinstance(low, ValueOperand) and isinstance(high, ValueOperand):
            same_type = type_name(low.constant) == type_name(high.constant)
            if same_type and compare(low.constant, high.constant) > 0:
                raise self.error(
                    "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
                    f"lower bound operand: {low.placeholder}, upper bound operand: {high.placeholder}"
                )
        return Between(operand, low, high)

    def parse_in(self, operand: Operand) -> ConditionNode:
        self.advance()
        candidates = self.parse_arguments(self.parse_operand)
        if len(candidates) > MAX_IN_OPERANDS:
            raise self.error(
                f"The IN operator accepts at most {MAX_IN_OPERANDS} operands; number of operands: {len(candidates)}"
            )
        return InList(operand, tuple(candidates))

    def parse_function_condition(self) -> ConditionNode:
        name = self.advance().text
        arguments = self.parse_arguments(self.parse_operand)

        if name in ("attribute_exists", "attribute_not_exists"):
            self.check_operand_count(name, arguments, 1)
            self.require_path(name, arguments[0])
        elif name == "attribute_type":
            self.check_operand_count(name, arguments, 2)
            self.require_path(name, arguments[0])
            self.check_type_name_operand(arguments[1])
        else:
            self.check_operand_count(name, arguments, 2)
            if name == "begins_with":
                self.check_value_type(name, arguments[0], ("S", "B"))
                self.check_value_type(name, arguments[1], ("S", "B"))
            elif isinstance(arguments[0], PathOperand) and arguments[0] == arguments[1]:
                raise self.error(
                    "The first operand must be distinct from the remaining operands for this operator or function; "
                    f"operator: {name}, first operand: {_describe_path(arguments[0].path)}"
                )
        return FunctionCondition(name, tuple(arguments))

    def check_type_name_operand(self, operand: Operand) -> None:
        if not isinstance(operand, ValueOperand):
            raise self.error(
                "Incorrect operand type for operator or function; operator or function: attribute_type, "
                "operand type: a document path (use a value placeholder holding a type name)"
            )
        if operand.constant not in ALL_TYPES:
            raise self.error(
                f"Invalid attribute type name found in type operand: {operand.constant!r} in {operand.placeholder}; "
                f"use one of {', '.join(ALL_TYPES)}"
            )

    def parse_operand(self) -> Operand:
        token = self.peek()
        if token.kind is TokenKind.VALUE_REF:
            self.advance()
            return self.resolve_value(token)
        if self.at_function():
            self.advance()
            self.check_function_name(token, frozenset({"size"}))
            arguments = self.parse_arguments(self.parse_operand)
            self.check_operand_count("size", arguments, 1)
            return SizeOperand(self.require_path("size", arguments[0]))
        return PathOperand(self.parse_path())


def _match_parentheses(tokens: Sequence[Token]) -> dict[int, int]:
    """Map the index of each '(' token to the index of its ')' (unbalanced ones are left out)."""
    matches: dict[int, int] = {}
    stack: list[int] = []
    for index, token in enumerate(tokens):
        if token.kind is TokenKind.SYMBOL and token.text == "(":
            stack.append(index)
        elif token.kind is TokenKind.SYMBOL and token.text == ")" and stack:
            matches[stack.pop()] = index
    return matches


# ---------------------------------------------------------------- placeholders


def _prepare_placeholders(
    names: Mapping[str, str] | None,
    values: Mapping[str, Any] | None,
) -> tuple[dict[str, str], dict[str, Any]]:
    """Validate ExpressionAttributeNames and ExpressionAttributeValues and normalize the values."""
    checked_names: dict[str, str] = {}
    for key, name in (names or {}).items():
        if not isinstance(key, str) or not re.fullmatch(r"#[A-Za-z0-9_]+", key):
            raise InvalidParameter(
                f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}" '
                "(a key is '#' followed by letters, digits or '_')"
            )
        if not isinstance(name, str) or not name:
            raise InvalidParameter(
                f"ExpressionAttributeNames contains invalid value: Empty attribute name; for key: {key}"
            )
        checked_names[key] = name

    checked_values: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if not isinstance(key, str) or not re.fullmatch(r":[A-Za-z0-9_]+", key):
            raise InvalidParameter(
                f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{key}" '
                "(a key is ':' followed by letters, digits or '_')"
            )
        checked_values[key] = normalize_value(value, f"ExpressionAttributeValues {key}")
    return checked_names, checked_values


def check_unused_placeholders(
    names: Mapping[str, str] | None,
    values: Mapping[str, Any] | None,
    *expressions: ParsedExpression,
) -> None:
    """Raise `InvalidParameter` if a name or value placeholder is used by none of `expressions`.

    Pass every expression of one request, since they share the placeholders.
    """
    used_names = set().union(*(expression.names_used for expression in expressions))
    used_values = set().union(*(expression.values_used for expression in expressions))
    unused_names = sorted(set(names or {}) - used_names)
    if unused_names:
        raise InvalidParameter(
            f"Value provided in ExpressionAttributeNames unused in expressions: keys: {{{', '.join(unused_names)}}}"
        )
    unused_values = sorted(set(values or {}) - used_values)
    if unused_values:
        raise InvalidParameter(
            f"Value provided in ExpressionAttributeValues unused in expressions: keys: {{{', '.join(unused_values)}}}"
        )


def check_paths_disjoint(kind: ExpressionKind, paths: Sequence[DocumentPath]) -> None:
    """Raise `InvalidParameter` if one path contains another or two paths index one level differently."""
    for first_index, first in enumerate(paths):
        for second in paths[first_index + 1 :]:
            shared = 0
            while shared < min(len(first), len(second)) and first[shared] == second[shared]:
                shared += 1
            if shared == min(len(first), len(second)):
                raise _invalid(
                    kind,
                    "Two document paths overlap with each other; must remove or rewrite one of these paths; "
                    f"path one: {_describe_path(first)}, path two: {_describe_path(second)}",
                )
            if isinstance(first[shared], int) != isinstance(second[shared], int):
                raise _invalid(
                    kind,
                    "Two document paths conflict with each other; must remove or rewrite one of these paths; "
                    f"path one: {_describe_path(first)}, path two: {_describe_path(second)}",
                )


# ---------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Condition:
    """A parsed ConditionExpression or FilterExpression."""

    text: str
    root: ConditionNode
    names_used: frozenset[str]
    values_used: frozenset[str]

    @property
    def attribute_names(self) -> frozenset[str]:
        """Top-level attributes the condition reads (a Query rejects key attributes in its filter)."""
        return frozenset(str(path[0]) for path in _condition_paths(self.root))

    def evaluate(self, item: Mapping[str, Any] | None) -> bool:
        """Return whether the condition holds for `item` (None: the item does not exist)."""
        return self.root.evaluate(item if item is not None else {})


def _condition_paths(node: ConditionNode) -> Iterator[DocumentPath]:
    """Yield every document path that `node` and the nodes under it read."""
    if isinstance(node, (Not, And, Or)):
        children = (node.operand,) if isinstance(node, Not) else node.operands
        for child in children:
            yield from _condition_paths(child)
        return

    if isinstance(node, Comparison):
        operands: tuple[Operand, ...] = (node.left, node.right)
    elif isinstance(node, Between):
        operands = (node.operand, node.low, node.high)
    elif isinstance(node, InList):
        operands = (node.operand, *node.candidates)
    else:
        operands = node.arguments
    for operand in operands:
        if isinstance(operand, (PathOperand, SizeOperand)):
            yield operand.path


def parse_condition(
    text: str,
    names: Mapping[str, str] | None,
    values: Mapping[str, Any] | None,
    *,
    kind: ExpressionKind = ExpressionKind.CONDITION,
    check_unused: bool = True,
) -> Condition:
    """Parse a ConditionExpression (or, with `kind=ExpressionKind.FILTER`, a FilterExpression).

    `names` maps `#placeholders` to attribute names and `values` maps
    `:placeholders` to Python attribute values. With `check_unused`, a
    placeholder this expression does not use is an error.
    """
    checked_names, checked_values = _prepare_placeholders(names, values)
    parser = _Parser(text, kind, checked_names, checked_values)
    root = parser.parse_condition()
    parser.expect_end()
    condition = Condition(text, root, frozenset(parser.names_used), frozenset(parser.values_used))
    if check_unused:
        check_unused_placeholders(checked_names, checked_values, condition)
    return condition


# ---------------------------------------------------------------- updates


class UpdateClause(enum.Enum):
    """The four clauses of an UpdateExpression, in the order `Update.apply` runs them."""

    SET = "SET"
    REMOVE = "REMOVE"
    ADD = "ADD"
    DELETE = "DELETE"


@dataclass(frozen=True)
class UpdateAction:
    """One action of an UpdateExpression: `clause` on `path`, with `operand` for SET, ADD and DELETE."""

    clause: UpdateClause
    path: DocumentPath
    operand: UpdateOperand | None = None


@dataclass(frozen=True)
class Update:
    """A parsed UpdateExpression."""

    text: str
    actions: tuple[UpdateAction, ...]
    names_used: frozenset[str]
    values_used: frozenset[str]

    @property
    def paths(self) -> tuple[DocumentPath, ...]:
        """Document paths the update changes, in expression order."""
        return tuple(action.path for action in self.actions)

    @property
    def attribute_names(self) -> frozenset[str]:
        """Top-level attributes the update changes (the table store rejects key attributes)."""
        return frozenset(str(path[0]) for path in self.paths)

    def apply(self, item: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return a new item with the update applied; `item` is not changed.

        `None` stands for an item that does not exist yet. Raises
        `InvalidParameter` when an operand has the wrong type, a SET refers to
        a missing attribute, or a path's parent is missing or of the wrong type.
        """
        original: Mapping[str, Any] = item if item is not None else {}
        result: dict[str, Any] = copy.deepcopy(dict(original))

        # Every SET right-hand side reads the item as it was before the update.
        assignments = [
            (action.path, _require_present(action.operand.value(original)))
            for action in self.actions
            if action.clause is UpdateClause.SET and action.operand is not None
        ]
        for path, value in assignments:
            _assign(result, path, copy.deepcopy(value))

        _remove_all(result, [action.path for action in self.actions if action.clause is UpdateClause.REMOVE])

        for action in self.actions:
            if action.clause is UpdateClause.ADD and isinstance(action.operand, ValueOperand):
                _add(result, action.path, action.operand.constant)
            elif action.clause is UpdateClause.DELETE and isinstance(action.operand, ValueOperand):
                _delete(result, action.path, action.operand.constant)
        return result


_INVALID_UPDATE_PATH = "The document path provided in the update expression is invalid for update"


def _parent_of(result: dict[str, Any], path: DocumentPath) -> Any:
    parent = resolve_path(result, path[:-1])
    last = path[-1]
    if isinstance(last, int) and isinstance(parent, list):
        return parent
    if isinstance(last, str) and isinstance(parent, dict):
        return parent
    raise InvalidParameter(f"{_INVALID_UPDATE_PATH}; path: {format_path(path)}")


def _assign(result: dict[str, Any], path: DocumentPath, value: Any) -> None:
    parent = _parent_of(result, path)
    last = path[-1]
    if isinstance(parent, list) and isinstance(last, int):
        # An index past the end appends, as in DynamoDB.
        if last < len(parent):
            parent[last] = value
        else:
            parent.append(value)
    else:
        parent[last] = value


def _remove_all(result: dict[str, Any], paths: Sequence[DocumentPath]) -> None:
    # List indexes refer to the list before the update, so each list loses
    # its elements from the highest index down.
    targets: list[tuple[Any, PathElement]] = []
    for path in paths:
        parent = resolve_path(result, path[:-1])
        last = path[-1]
        if isinstance(parent, dict) and isinstance(last, str) and last in parent:
            targets.append((parent, last))
        elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
            targets.append((parent, last))
    highest_index_first = sorted(
        targets, key=lambda target: target[1] if isinstance(target[1], int) else -1, reverse=True
    )
    for parent, key in highest_index_first:
        del parent[key]


def _add(result: dict[str, Any], path: DocumentPath, operand: Any) -> None:
    current = resolve_path(result, path)
    if current is _MISSING:
        _assign(result, path, copy.deepcopy(operand))
        return
    current_type = type_name(current)
    if current_type != type_name(operand):
        raise InvalidParameter(
            "An operand in the update expression has an incorrect data type; "
            f"ADD of {type_name(operand)} to {format_path(path)}, which is {current_type}"
        )
    if current_type == "N":
        _assign(result, path, add_numbers(current, operand, f"result of ADD to {format_path(path)}"))
    else:
        _assign(result, path, current | operand)


def _delete(result: dict[str, Any], path: DocumentPath, operand: Any) -> None:
    current = resolve_path(result, path)
    if current is _MISSING:
        return
    current_type = type_name(current)
    if current_type != type_name(operand):
        raise InvalidParameter(
            "An operand in the update expression has an incorrect data type; "
            f"DELETE of {type_name(operand)} from {format_path(path)}, which is {current_type}"
        )
    remaining = current - operand
    if remaining:
        _assign(result, path, remaining)
    else:
        # An empty set is not a value, so the attribute goes.
        _remove_all(result, [path])


class _UpdateParser(_Parser):
    """Parser for UpdateExpression clauses."""

    def parse_update(self) -> list[UpdateAction]:
        actions: list[UpdateAction] = []
        seen: set[UpdateClause] = set()
        while self.peek().kind is not TokenKind.END:
            token = self.peek()
            clause = _clause_of(token)
            if clause is None:
                raise self.syntax_error()
            if clause in seen:
                raise self.error(f'The "{clause.value}" section can only be used once in an update expression;')
            seen.add(clause)
            self.advance()
            actions.append(self.parse_action(clause))
            while self.at_symbol(","):
                self.advance()
                actions.append(self.parse_action(clause))
        return actions

    def parse_action(self, clause: UpdateClause) -> UpdateAction:
        path = self.parse_path()
        if clause is UpdateClause.REMOVE:
            return UpdateAction(clause, path)
        if clause is UpdateClause.SET:
            self.expect_symbol("=")
            return UpdateAction(clause, path, self.parse_set_value())

        token = self.peek()
        if token.kind is not TokenKind.VALUE_REF:
            raise self.syntax_error()
        self.advance()
        operand = self.resolve_value(token)
        operand_type = type_name(operand.constant)
        allowed = ("N", "SS", "NS", "BS") if clause is UpdateClause.ADD else ("SS", "NS", "BS")
        if operand_type not in allowed:
            raise self.error(
                f"Incorrect operand type for operator or function; operator: {clause.value}, "
                f"operand type: {_LONG_TYPE_NAMES[operand_type]}"
            )
        return UpdateAction(clause, path, operand)

    def parse_set_value(self) -> UpdateOperand:
        left = self.parse_set_operand()
        if self.at_symbol("+") or self.at_symbol("-"):
            operator = self.advance().text
            right = self.parse_set_operand()
            self.check_value_type(operator, left, ("N",))
            self.check_value_type(operator, right, ("N",))
            return ArithmeticOperand(operator, left, right)
        return left

    def parse_set_operand(self) -> UpdateOperand:
        token = self.peek()
        if token.kind is TokenKind.VALUE_REF:
            self.advance()
            return self.resolve_value(token)
        if not self.at_function():
            return PathOperand(self.parse_path())

        self.advance()
        if token.text not in _ALL_FUNCTIONS:
            raise self.error(f"Invalid function name; function: {token.text}")
        if token.text not in _UPDATE_FUNCTIONS:
            raise self.error(f"The function is not allowed in an update expression; function: {token.text}")
        arguments = self.parse_arguments(self.parse_set_operand)
        self.check_operand_count(token.text, arguments, 2)
        if token.text == "if_not_exists":
            return IfNotExistsOperand(self.require_path(token.text, arguments[0]), arguments[1])
        for argument in arguments:
            self.check_value_type("list_append", argument, ("L",))
        return ListAppendOperand(arguments[0], arguments[1])


def _clause_of(token: Token) -> UpdateClause | None:
    if token.kind is not TokenKind.NAME:
        return None
    try:
        return UpdateClause(token.text.upper())
    except ValueError:
        return None


def parse_update(
    text: str,
    names: Mapping[str, str] | None,
    values: Mapping[str, Any] | None,
    *,
    check_unused: bool = True,
) -> Update:
    """Parse an UpdateExpression (SET, REMOVE, ADD and DELETE clauses, each at most once).

    Raises `InvalidParameter` for syntax errors, undefined or (with
    `check_unused`) unused placeholders, operands of the wrong type and paths
    that overlap.
    """
    checked_names, checked_values = _prepare_placeholders(names, values)
    parser = _UpdateParser(text, ExpressionKind.UPDATE, checked_names, checked_values)
    actions = parser.parse_update()
    check_paths_disjoint(ExpressionKind.UPDATE, [action.path for action in actions])
    update = Update(text, tuple(actions), frozenset(parser.names_used), frozenset(parser.values_used))
    if check_unused:
        check_unused_placeholders(checked_names, checked_values, update)
    return update


# ---------------------------------------------------------------- key conditions


_FLIPPED = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True)
class KeyCondition:
    """A parsed KeyConditionExpression: equality on the partition key and at most one sort key condition.

    `sort_op` is one of "=", "<", "<=", ">", ">=", "between", "begins_with" or
    None. `sort_values` contains its one operand (two for "between").
    """

    text: str
    partition_key: str
    partition_value: Any
    sort_key: str | None
    sort_op: str | None
    sort_values: tuple[Any, ...]
    names_used: frozenset[str]
    values_used: frozenset[str]

    def matches_sort(self, value: Any) -> bool:
        """Return whether a sort key value meets the sort condition (always true without one)."""
        if self.sort_op is None:
            return True
        if value is None or value is _MISSING:
            return False
        if self.sort_op == "between":
            return _compare(">=", value, self.sort_values[0]) and _compare("<=", value, self.sort_values[1])
        if self.sort_op == "begins_with":
            return _begins_with(value, self.sort_values[0])
        return _compare(self.sort_op, value, self.sort_values[0])

    def matches(self, item: Mapping[str, Any]) -> bool:
        """Return whether an item's key attributes meet the whole key condition."""
        partition = item.get(self.partition_key, _MISSING)
        if not _compare("=", partition, self.partition_value):
            return False
        if self.sort_key is None or self.sort_op is None:
            return True
        return self.matches_sort(item.get(self.sort_key, _MISSING))


@dataclass(frozen=True)
class _KeyPart:
    name: str
    operator: str
    operands: tuple[Any, ...]


def _flatten_and(node: ConditionNode) -> list[ConditionNode]:
    # A parenthesized AND inside an AND is a nested And node.
    if isinstance(node, And):
        return [part for operand in node.operands for part in _flatten_and(operand)]
    return [node]


def _key_part(parser: _Parser, node: ConditionNode) -> _KeyPart:
    if isinstance(node, Or):
        raise parser.error("Invalid operator used in KeyConditionExpression: OR")
    if isinstance(node, Not):
        raise parser.error("Invalid operator used in KeyConditionExpression: NOT")
    if isinstance(node, InList):
        raise parser.error("Invalid operator used in KeyConditionExpression: IN")

    if isinstance(node, Comparison):
        if node.operator == "<>":
            raise parser.error("Invalid operator used in KeyConditionExpression: <>")
        if isinstance(node.left, PathOperand) and isinstance(node.right, ValueOperand):
            return _KeyPart(_key_name(parser, node.left.path), node.operator, (node.right.constant,))
        if isinstance(node.left, ValueOperand) and isinstance(node.right, PathOperand):
            return _KeyPart(_key_name(parser, node.right.path), _FLIPPED[node.operator], (node.left.constant,))
    elif isinstance(node, Between):
        bounds = (node.low, node.high)
        if isinstance(node.operand, PathOperand) and all(isinstance(bound, ValueOperand) for bound in bounds):
            constants = tuple(bound.constant for bound in bounds if isinstance(bound, ValueOperand))
            return _KeyPart(_key_name(parser, node.operand.path), "between", constants)
    elif isinstance(node, FunctionCondition):
        if node.function != "begins_with":
            raise parser.error(f"Invalid operator used in KeyConditionExpression: {node.function}")
        first, second = node.arguments
        if isinstance(first, PathOperand) and isinstance(second, ValueOperand):
            return _KeyPart(_key_name(parser, first.path), "begins_with", (second.constant,))
    raise parser.error(
        "Key conditions compare one key attribute with value placeholders, "
        "e.g. 'pk = :pk AND sk BETWEEN :low AND :high'; size() and path-to-path comparisons are not supported"
    )


def _key_name(parser: _Parser, path: DocumentPath) -> str:
    if len(path) != 1 or not isinstance(path[0], str):
        raise parser.error(
            f"Key conditions name top-level key attributes only; document path: {format_path(path)}"
        )
    return path[0]


def parse_key_condition(
    text: str,
    names: Mapping[str, str] | None,
    values: Mapping[str, Any] | None,
    partition_key: str,
    sort_key: str | None,
    *,
    key_types: Mapping[str, str] | None = None,
    check_unused: bool = True,
) -> KeyCondition:
    """Parse a KeyConditionExpression for a table or index with the given key attributes.

    The expression is `pk = :v`, optionally AND one sort key condition:
    `= < <= > >=`, `BETWEEN :a AND :b` or `begins_with(sk, :p)`. `key_types`
    maps key attribute names to "S", "N" or "B"; when given, a value of
    another type is an error.
    """
    checked_names, checked_values = _prepare_placeholders(names, values)
    parser = _Parser(text, ExpressionKind.KEY_CONDITION, checked_names, checked_values)
    root = parser.parse_condition()
    parser.expect_end()

    parts = [_key_part(parser, node) for node in _flatten_and(root)]
    by_name: dict[str, _KeyPart] = {}
    for part in parts:
        if part.name in by_name:
            raise parser.error("KeyConditionExpressions must only contain one condition per key")
        if part.name not in (partition_key, sort_key):
            raise InvalidParameter(
                f"Query key condition not supported: {part.name} is not a key attribute "
                f"(keys: {', '.join(key for key in (partition_key, sort_key) if key)}); "
                "use a FilterExpression for other attributes"
            )
        _check_key_values(part, key_types)
        by_name[part.name] = part

    partition = by_name.get(partition_key)
    if partition is None:
        raise InvalidParameter(f"Query condition missed key schema element: {partition_key}")
    if partition.operator != "=":
        raise InvalidParameter(
            f"Query key condition not supported: the partition key {partition_key} takes only '=', "
            f"got {partition.operator!r}"
        )

    sort = by_name.get(sort_key) if sort_key is not None else None
    condition = KeyCondition(
        text=text,
        partition_key=partition_key,
        partition_value=partition.operands[0],
        sort_key=sort_key,
        sort_op=sort.operator if sort is not None else None,
        sort_values=sort.operands if sort is not None else (),
        names_used=frozenset(parser.names_used),
        values_used=frozenset(parser.values_used),
    )
    if check_unused:
        check_unused_placeholders(checked_names, checked_values, condition)
    return condition


def _check_key_values(part: _KeyPart, key_types: Mapping[str, str] | None) -> None:
    expected = key_types.get(part.name) if key_types else None
    for operand in part.operands:
        actual = type_name(operand)
        if actual not in SCALAR_TYPES or (expected is not None and actual != expected):
            valid = expected or "S, N or B"
            raise InvalidParameter(
                "One or more parameter values were invalid: Condition parameter type does not match schema type; "
                f"key: {part.name}, value type: {actual}, expected: {valid}"
            )


# ---------------------------------------------------------------- projections

# Marks a projected path's end in the tree `Projection` builds.
_WHOLE: Any = object()


@dataclass(frozen=True)
class Projection:
    """A parsed ProjectionExpression: the document paths to return."""

    text: str
    paths: tuple[DocumentPath, ...]
    names_used: frozenset[str]
    values_used: frozenset[str] = frozenset()

    @property
    def attribute_names(self) -> frozenset[str]:
        """Top-level attributes the projection reads."""
        return frozenset(str(path[0]) for path in self.paths)

    def apply(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Return a new item with only the projected paths; missing paths are left out.

        Projected list elements keep their order and close up, so `a[1], a[3]`
        of `[0, 1, 2, 3]` gives `{"a": [1, 3]}`, as DynamoDB returns it.
        """
        tree: dict[PathElement, Any] = {}
        for path in self.paths:
            node = tree
            for element in path[:-1]:
                node = node.setdefault(element, {})
            node[path[-1]] = _WHOLE
        projected = _project(dict(item), tree)
        return projected if projected is not _MISSING else {}


def _project(value: Any, tree: Any) -> Any:
    if tree is _WHOLE:
        return copy.deepcopy(value)
    if isinstance(value, dict):
        mapped = {}
        for key in value:
            if key in tree:
                selected = _project(value[key], tree[key])
                if selected is not _MISSING:
                    mapped[key] = selected
        return mapped if mapped else _MISSING
    if isinstance(value, list):
        indexes = sorted(key for key in tree if isinstance(key, int) and key < len(value))
        listed = []
        for index in indexes:
            selected = _project(value[index], tree[index])
            if selected is not _MISSING:
                listed.append(selected)
        return listed if listed else _MISSING
    return _MISSING


def parse_projection(
    text: str,
    names: Mapping[str, str] | None,
    *,
    check_unused: bool = True,
) -> Projection:
    """Parse a ProjectionExpression: document paths separated by commas."""
    checked_names, _ = _prepare_placeholders(names, None)
    parser = _Parser(text, ExpressionKind.PROJECTION, checked_names, None)
    paths = [parser.parse_path()]
    while parser.at_symbol(","):
        parser.advance()
        paths.append(parser.parse_path())
    parser.expect_end()
    check_paths_disjoint(ExpressionKind.PROJECTION, paths)
    projection = Projection(text, tuple(paths), frozenset(parser.names_used))
    if check_unused:
        check_unused_placeholders(checked_names, None, projection)
    return projection
