"""Pieces shared by the modules that read serverless.yml: its YAML loader and its warnings."""

from __future__ import annotations

import decimal
import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from squall.errors import ManifestError
from squall.manifest.validate import (
    KeyPath,
    ManifestSource,
    StrictLoader,
    check_int,
    describe,
    document_position,
    dotted,
    expected,
)

_NUMBER_TEXT_RE = re.compile(r"^\s*[-+]?[0-9]+(?:\.[0-9]+)?\s*$")


@dataclass(frozen=True)
class CloudFormationTag:
    """A CloudFormation short-form function such as `!Ref Bucket`, kept unevaluated."""

    tag: str
    value: Any

    def __str__(self) -> str:
        return f"!{self.tag} {describe(self.value)}"


class ServerlessLoader(StrictLoader):
    """The strict YAML loader with YAML 1.2's core schema, plus CloudFormation tags, which serverless.yml allows.

    The Framework reads serverless.yml with js-yaml 4, whose plain scalars
    follow YAML 1.2's core schema rather than PyYAML's YAML 1.1: `no`, `on`
    and `12:30` are strings, and `010` is ten.
    """


def check_number(source: ManifestSource, key: KeyPath, value: Any, low: int, high: int | None, rule: str) -> int:
    """Return a whole-number setting in [low, high], also when it is written as a string such as "256".

    The Framework (v3 and v4) validates serverless.yml with Ajv's type
    coercion, which turns a numeric string into the number its schema
    expects, so `memorySize: ${env:MEMORY, 128}` works with MEMORY=256.
    NOTE: only decimal text is accepted here, while Ajv also converts forms
    such as "0x10" and "1e3". Any other string is rejected.
    """
    number = value
    if isinstance(value, str) and _NUMBER_TEXT_RE.match(value):
        number = float(value) if "." in value else int(value)
    try:
        return check_int(source, key, number, low, high, rule)
    except ManifestError:
        # The message shows the value as the file or variable wrote it.
        raise source.error(key, expected(rule, value)) from None


def likely_typo(name: str, known: Iterable[str]) -> str | None:
    """Return the known key that `name` misspells by a letter or two, ignoring case, or None.

    The bar is high because a key Squall does not read is usually a real key
    of the Framework or SAM that it does not support yet.
    """
    by_folded = {key.casefold(): key for key in known}
    matches = difflib.get_close_matches(name.casefold(), list(by_folded), n=1, cutoff=0.85)
    return by_folded[matches[0]] if matches else None


def _construct_cloudformation_tag(
    loader: yaml.SafeLoader, suffix: str, node: yaml.Node
) -> CloudFormationTag:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(
            None, None, f"unexpected YAML node for the tag !{suffix}", node.start_mark
        )
    return CloudFormationTag(suffix, value)


ServerlessLoader.add_multi_constructor("!", _construct_cloudformation_tag)


# The tag resolution of YAML 1.2's core schema (YAML 1.2.2, section 10.3.2),
# with the first characters PyYAML looks each pattern up by. Every other plain
# scalar is a string. `<<` keeps its meaning, a merge key, as in js-yaml.
# NOTE: js-yaml's default schema also reads timestamps (2024-01-01), which
# the Framework turns into ISO text. Squall keeps them as written.
_CORE_SCHEMA_RESOLVERS = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ("~", "n", "N", "")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    ("tag:yaml.org,2002:merge", r"^<<$", "<"),
)


def _construct_core_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    # Base 10 even with leading zeros: "010" is ten, where YAML 1.1 reads it as octal.
    return int(text, 10)


def _construct_core_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    unsigned = text.lstrip("+-").lower()
    if unsigned in (".inf", ".nan"):
        value = math.inf if unsigned == ".inf" else math.nan
        return -value if text.startswith("-") else value
    return float(text)


ServerlessLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in _CORE_SCHEMA_RESOLVERS:
    ServerlessLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
ServerlessLoader.add_constructor("tag:yaml.org,2002:int", _construct_core_int)
ServerlessLoader.add_constructor("tag:yaml.org,2002:float", _construct_core_float)


def javascript_number_text(value: int | float) -> str:
    """Return a number as JavaScript's String(number) writes it, which is what the Framework puts in text.

    So `1e3` and `2.0` become "1000" and "2", as in the Framework, not Python's "1000.0" and "2.0".
    """
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"

    # The shortest digits that read back as `value` (Python's repr finds them, as JavaScript does),
    # and the position n of the decimal point: value = 0.DIGITS x 10^n.
    _, digit_tuple, exponent = decimal.Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(str(digit) for digit in digit_tuple)
    position = len(digits) + int(exponent)
    sign = "-" if value < 0 else ""

    # ECMAScript's Number::toString picks a form by the point's position.
    if len(digits) <= position <= 21:
        return sign + digits + "0" * (position - len(digits))
    if 0 < position <= 21:
        return sign + digits[:position] + "." + digits[position:]
    if -6 < position <= 0:
        return sign + "0." + "0" * -position + digits
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    power = position - 1
    return f"{sign}{mantissa}e{'+' if power >= 0 else '-'}{abs(power)}"


@dataclass
class Warnings:
    """Warnings keyed by the dotted key path, so each key is listed once.

    `by_key` contains one warning per key, which is how a SAM template lists them.
    `listed()` joins the keys that are only "not supported by Squall yet"
    into one warning, which is how a serverless.yml lists them.
    """

    by_key: dict[str, str] = field(default_factory=dict)
    # The dotted keys added through `unsupported`, each with what it is ("" for a plain key), in the order found.
    unsupported_kinds: dict[str, str] = field(default_factory=dict)

    def add(self, key: KeyPath, message: str) -> None:
        self.by_key.setdefault(dotted(key), f"{dotted(key)}: {message}")

    def unsupported(self, key: KeyPath, kind: str | None = None) -> None:
        if dotted(key) in self.by_key:
            return
        subject = f"{kind} not" if kind else "not"
        self.add(key, f"{subject} supported by Squall yet, ignored")
        self.unsupported_kinds[dotted(key)] = kind or ""

    def unsupported_keys(self, key: KeyPath, mapping: dict[Any, Any], known: Iterable[str]) -> None:
        """List each key of `mapping` outside `known` as not supported, or as a likely typo of a known key."""
        known = frozenset(known)
        for name in mapping:
            if name in known:
                continue
            meant = likely_typo(str(name), known)
            if meant is None:
                self.unsupported((*key, str(name)))
            else:
                self.add((*key, str(name)), f'unknown key, did you mean "{meant}"? ignored')

    def listed(self, document: Any) -> tuple[str, ...]:
        """Return every warning, with the not-supported keys joined into one last warning in file order."""
        others = tuple(message for key, message in self.by_key.items() if key not in self.unsupported_kinds)
        if not self.unsupported_kinds:
            return others
        keys = sorted(self.unsupported_kinds, key=lambda key: document_position(document, key))
        names = [f"{key} ({self.unsupported_kinds[key]})" if self.unsupported_kinds[key] else key for key in keys]
        return (*others, "not supported by Squall yet, ignored: " + ", ".join(names))
