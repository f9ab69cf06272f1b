"""Pieces shared by the modules that read serverless.yml: its YAML loader and its warnings."""

from __future__ import annotations

import difflib
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
    """The strict YAML loader, plus CloudFormation tags, which serverless.yml allows."""


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
