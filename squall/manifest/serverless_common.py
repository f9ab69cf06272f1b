"""Pieces shared by the modules that read serverless.yml: its YAML loader and its warnings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from squall.manifest.validate import KeyPath, StrictLoader, describe, dotted


@dataclass(frozen=True)
class CloudFormationTag:
    """A CloudFormation short-form function such as `!Ref Bucket`, kept unevaluated."""

    tag: str
    value: Any

    def __str__(self) -> str:
        return f"!{self.tag} {describe(self.value)}"


class ServerlessLoader(StrictLoader):
    """The strict YAML loader, plus CloudFormation tags, which serverless.yml allows."""


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
    """Warnings keyed by the dotted key path, so each key is listed once."""

    by_key: dict[str, str] = field(default_factory=dict)

    def add(self, key: KeyPath, message: str) -> None:
        self.by_key.setdefault(dotted(key), f"{dotted(key)}: {message}")

    def unsupported(self, key: KeyPath, kind: str | None = None) -> None:
        subject = f"{kind} not" if kind else "not"
        self.add(key, f"{subject} supported by Squall yet, ignored")

    def unsupported_keys(self, key: KeyPath, mapping: dict[Any, Any], known: Iterable[str]) -> None:
        known = frozenset(known)
        for name in mapping:
            if name not in known:
                self.unsupported((*key, str(name)))
