"""CloudFormation's YAML tags and intrinsic functions, as an AWS SAM template uses them.

`SamLoader` reads the short forms (`!Ref X`, `!GetAtt X.Arn`, `!Sub ...`) into
the long forms (`{"Ref": "X"}`, `{"Fn::GetAtt": ["X", "Arn"]}`), so that one
evaluator handles both spellings. `Evaluator.resolve` computes a value the
way CloudFormation would at deploy time, with Squall's pseudo parameters
(the server's region, account 000000000000) and Squall's names and ARNs for
the template's resources.

Values are resolved only where the reader uses them, so an unsupported
function inside a property Squall ignores (an IAM policy, say) costs nothing.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from squall.errors import ManifestError
from squall.manifest.serverless_common import likely_typo
from squall.manifest.serverless_keys import closest_key
from squall.manifest.serverless_variables import server_region
from squall.manifest.validate import KeyPath, ManifestSource, StrictLoader, describe, dotted, expected

logger = logging.getLogger(__name__)

ACCOUNT_ID = "000000000000"
PARTITION = "aws"

# Short tags and the long-form key each one stands for.
SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
            "FindInMap", "Base64", "GetAZs", "ImportValue", "Cidr", "Transform", "Length",
            "ToJsonString",
        )
    },
}
_SHORT_TAG_LIST = ", ".join(f"!{name}" for name in SHORT_TAGS)

_CONDITION_FUNCTIONS = frozenset({"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"})
_VALUE_FUNCTIONS = frozenset(
    {"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::If", "Fn::FindInMap", "Fn::Base64"}
)
# Functions Squall recognises but cannot compute, with the reason shown to the user.
_UNSUPPORTED_FUNCTIONS = {
    "Fn::ImportValue": "values exported by other stacks do not exist in Squall",
    "Fn::GetAZs": "Squall has no availability zones",
    "Fn::Cidr": "Squall has no networks",
    "Fn::Transform": "macros are not run by Squall",
    "Fn::Length": "the AWS::LanguageExtensions transform is not supported",
    "Fn::ToJsonString": "the AWS::LanguageExtensions transform is not supported",
}

_SUB_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")
# SAM's names for the alias and version of a function with AutoPublishAlias, as in `!Ref Function.Alias`.
_PUBLISHED_SUFFIXES = (".Alias", ".Version")


class SamLoader(StrictLoader):
    """The strict YAML loader, plus CloudFormation's short-form tags read as their long forms."""


def _construct_short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if suffix not in SHORT_TAGS:
        raise yaml.constructor.ConstructorError(
            None, None, f"unknown tag !{suffix}, expected one of {_SHORT_TAG_LIST}", node.start_mark
        )
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

    # `!GetAtt Queue.Arn` is the short spelling of ["Queue", "Arn"].
    if suffix == "GetAtt" and isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        value = [logical_id, attribute]
    return {SHORT_TAGS[suffix]: value}


SamLoader.add_multi_constructor("!", _construct_short_tag)


class _NoValue:
    """The value of `AWS::NoValue`: the property that receives it is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


class Unresolvable(Exception):
    """Raised for a value that is valid CloudFormation but that Squall cannot compute.

    The reader turns it into an error where the value is needed (a handler,
    a trigger's source) and into a warning where it can be left out (an
    environment variable).
    """

    def __init__(self, key: KeyPath, reason: str) -> None:
        super().__init__(f"{dotted(key)}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class ResourceRef:
    """The values `Ref` and `Fn::GetAtt` return for one resource of the template.

    `ref` is None for a resource type Squall does not model, and
    `unsupported` then gives the reason. `type_attributes` lists every
    attribute CloudFormation defines for the resource's type, which Squall
    may resolve or not; it is empty for a type whose attributes Squall does
    not know.
    """

    logical_id: str
    type: str
    ref: str | None
    attributes: Mapping[str, str] = field(default_factory=dict)
    unsupported: str = ""
    type_attributes: tuple[str, ...] = ()
    # Attributes of the type that this resource does not have on AWS either,
    # each with the error that Fn::GetAtt of it raises.
    absent: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Warnings:
    """Warnings keyed by their key path, so each place is reported once, in the order found."""

    by_key: dict[str, str] = field(default_factory=dict)

    def add(self, key: KeyPath, message: str) -> None:
        self.by_key.setdefault(dotted(key), f"{dotted(key)}: {message}")

    def unsupported(self, key: KeyPath, reason: str = "not supported by Squall yet") -> None:
        self.add(key, f"{reason}, ignored")

    def unsupported_keys(self, key: KeyPath, mapping: Mapping[Any, Any], known: Iterable[str]) -> None:
        """List each key of `mapping` outside `known` as not supported, or as a likely typo of a known key."""
        known = set(known)
        for name in mapping:
            if name in known:
                continue
            meant = likely_typo(str(name), known)
            if meant is None:
                self.unsupported((*key, str(name)))
            else:
                self.add((*key, str(name)), f'unknown key, did you mean "{meant}"? ignored')


def unknown_key_error(
    source: ManifestSource, key: KeyPath, name: Any, defined: Iterable[str], owner: str, hint: str = ""
) -> ManifestError:
    """Build the error for a key that `owner` (such as "SQS events") does not define, which SAM or CloudFormation rejects.

    The message names the closest defined key when one is close, then every defined key.
    """
    defined = sorted(defined)
    meant = closest_key(str(name), defined)
    suggestion = f' (did you mean "{meant}"?)' if meant else ""
    return source.error(
        (*key, str(name)),
        f"unknown property {describe(name)} of {owner}{suggestion}, expected one of: " + ", ".join(defined) + hint,
    )


def check_defined_keys(
    source: ManifestSource,
    key: KeyPath,
    mapping: Mapping[Any, Any],
    defined: Iterable[str],
    owner: str,
    warnings: Warnings | None = None,
    read: Iterable[str] | None = None,
) -> None:
    """Raise ManifestError for the first key of `mapping` outside `defined`, as SAM and CloudFormation reject it.

    With `warnings` and `read`, each defined key that Squall does not read is
    listed as not supported.
    """
    defined = frozenset(defined)
    for name in mapping:
        if name not in defined:
            raise unknown_key_error(source, key, name, defined, owner)
    if warnings is None or read is None:
        return
    read = frozenset(read)
    for name in mapping:
        if name not in read:
            warnings.unsupported((*key, str(name)))


def is_function(value: Any) -> bool:
    """Return whether `value` is an intrinsic function call such as {"Ref": "X"}."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    name = next(iter(value))
    return isinstance(name, str) and (name == "Ref" or name.startswith("Fn::"))


@dataclass(frozen=True)
class Parameter:
    """A template parameter's value after overrides and defaults; lists for the list types."""

    name: str
    type: str
    value: str | list[str]


ResourceLookup = Callable[[str, KeyPath], ResourceRef | None]


class Evaluator:
    """Computes intrinsic functions, conditions and references in the values of one template."""

    def __init__(
        self,
        source: ManifestSource,
        stack_name: str,
        parameters: Mapping[str, Parameter],
        conditions: Mapping[str, Any],
        mappings: Mapping[str, Any],
        lookup: ResourceLookup,
        declared_ids: Iterable[str] = (),
    ) -> None:
        self.source = source
        # The logical ids of the Resources section, for "did you mean" suggestions.
        self._declared_ids = tuple(declared_ids)
        self.stack_name = stack_name
        self.parameters = parameters
        self._conditions = conditions
        self._mappings = mappings
        self._lookup = lookup
        self._condition_values: dict[str, bool] = {}
        self._conditions_in_progress: list[str] = []

    # Pseudo parameters -------------------------------------------------------

    def pseudo_parameters(self) -> dict[str, Any]:
        """Return the AWS:: pseudo parameters as Squall sets them."""
        region = server_region()
        return {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            # CloudFormation gives each stack a random UUID; Squall's is fixed.
            "AWS::StackId": (
                f"arn:{PARTITION}:cloudformation:{region}:{ACCOUNT_ID}:stack/{self.stack_name}/"
                "00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }

    # Values ------------------------------------------------------------------

    def resolve(self, value: Any, key: KeyPath) -> Any:
        """Compute every intrinsic function in `value`; entries that become AWS::NoValue are removed.

        Raises ManifestError for a malformed function and Unresolvable for one
        Squall cannot compute.
        """
        if is_function(value):
            name, argument = next(iter(value.items()))
            return self._call(name, argument, (*key, name))
        if isinstance(value, dict):
            resolved: dict[Any, Any] = {}
            for child_key, child in value.items():
                child_value = self.resolve(child, (*key, str(child_key)))
                if child_value is not NO_VALUE:
                    resolved[child_key] = child_value
            return resolved
        if isinstance(value, list):
            items = [self.resolve(child, (*key, index)) for index, child in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        return value

    def resolve_string(self, value: Any, key: KeyPath, what: str) -> str:
        """Resolve `value` and require a string; numbers become strings as CloudFormation converts them."""
        resolved = self.resolve(value, key)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, (int, float)):
            return str(resolved)
        if not isinstance(resolved, str):
            raise self.source.error(key, expected(what, resolved))
        return resolved

    def _call(self, name: str, argument: Any, key: KeyPath) -> Any:
        if name in _UNSUPPORTED_FUNCTIONS:
            raise Unresolvable(key, f"{name} is not supported: {_UNSUPPORTED_FUNCTIONS[name]}")
        if name == "Ref":
            return self._ref(argument, key)
        if name == "Fn::GetAtt":
            return self._get_att(argument, key)
        if name == "Fn::Sub":
            return self._sub(argument, key)
        if name == "Fn::Join":
            return self._join(argument, key)
        if name == "Fn::Select":
            return self._select(argument, key)
        if name == "Fn::Split":
            return self._split(argument, key)
        if name == "Fn::If":
            return self._if(argument, key)
        if name == "Fn::FindInMap":
            return self._find_in_map(argument, key)
        if name == "Fn::Base64":
            text = self.resolve_string(argument, key, "a string to encode")
            return base64.b64encode(text.encode()).decode("ascii")
        if name in _CONDITION_FUNCTIONS:
            raise self.source.error(
                key, f"{name} is a condition function, expected it inside Conditions or as the first item of Fn::If"
            )
        raise self.source.error(
            key,
            f"unknown intrinsic function {describe(name)}, expected one of "
            + ", ".join(sorted(_VALUE_FUNCTIONS | set(_UNSUPPORTED_FUNCTIONS))),
        )

    def _ref(self, argument: Any, key: KeyPath) -> Any:
        target = self.resolve(argument, key)
        if not isinstance(target, str):
            raise self.source.error(key, expected("the name of a parameter, resource or pseudo parameter", target))
        pseudo = self.pseudo_parameters()
        if target in pseudo:
            return pseudo[target]
        if target.startswith("AWS::"):
            raise self.source.error(key, expected("a pseudo parameter (" + ", ".join(pseudo) + ")", target))
        parameter = self.parameters.get(target)
        if parameter is not None:
            if parameter.type.startswith("AWS::SSM::Parameter::Value"):
                raise Unresolvable(
                    key,
                    f"parameter {target} of type {parameter.type} is read from SSM Parameter Store, which Squall "
                    "does not have; give its value as a parameter override",
                )
            return parameter.value
        resource = self._resource(target, key)
        if resource.ref is None:
            raise Unresolvable(key, f"Ref of {target} ({resource.type}) is not supported: {resource.unsupported}")
        return resource.ref

    def _get_att(self, argument: Any, key: KeyPath) -> str:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        if not isinstance(argument, list) or len(argument) != 2 or not isinstance(argument[0], str):
            raise self.source.error(key, expected('[LogicalId, Attribute] or "LogicalId.Attribute"', argument))
        logical_id = argument[0]
        attribute = self.resolve_string(argument[1], (*key, 1), "an attribute name")
        resource = self._resource(logical_id, key)
        if attribute in resource.attributes:
            return resource.attributes[attribute]
        if attribute in resource.absent:
            raise self.source.error(key, resource.absent[attribute])
        if resource.type_attributes and attribute not in resource.type_attributes:
            # CloudFormation rejects the whole template for an attribute its type does not have.
            raise self.source.error(
                key,
                f"{describe(attribute)} is not an attribute of {logical_id} ({resource.type}), expected one of: "
                + ", ".join(resource.type_attributes),
            )
        if resource.ref is None:
            raise Unresolvable(
                key, f"Fn::GetAtt of {logical_id} ({resource.type}) is not supported: {resource.unsupported}"
            )
        valid = ", ".join(resource.attributes) or "none"
        raise Unresolvable(
            key, f"attribute {describe(attribute)} of {logical_id} ({resource.type}) is not supported by Squall, "
            f"expected one of: {valid}"
        )

    def _resource(self, logical_id: str, key: KeyPath) -> ResourceRef:
        resource = self._lookup(logical_id, key)
        if resource is None:
            raise self._unknown_name(logical_id, key)
        return resource

    def _unknown_name(self, name: str, key: KeyPath) -> ManifestError:
        meant = closest_key(name, [*self.parameters, *self._declared_ids])
        hint = f' (did you mean "{meant}"?)' if meant else ""
        return self.source.error(
            key,
            f"{describe(name)} is not a parameter, resource or pseudo parameter of this template{hint}, "
            "expected a name declared under Parameters or Resources, or one such as AWS::Region",
        )

    # Reference checks ----------------------------------------------------------

    def check_references(self, value: Any, key: KeyPath) -> list[ManifestError]:
        """Return an error for each Ref, Fn::GetAtt, Fn::Sub variable and condition name in `value` that names nothing.

        CloudFormation rejects such a template ("Unresolved resource
        dependencies") wherever the reference is, so this runs on sections
        whose values Squall never computes (Outputs, Policies) as well.
        """
        errors: list[ManifestError] = []
        self._check_value(value, key, errors)
        return errors

    def _check_value(self, value: Any, key: KeyPath, errors: list[ManifestError]) -> None:
        if is_function(value):
            name, argument = next(iter(value.items()))
            function_key = (*key, name)
            try:
                self._check_call(name, argument, function_key, errors)
            except (ManifestError, Unresolvable):
                pass  # a malformed call is reported where Squall computes it
            return
        if isinstance(value, dict):
            for child_key, child in value.items():
                self._check_value(child, (*key, str(child_key)), errors)
        elif isinstance(value, list):
            for index, child in enumerate(value):
                self._check_value(child, (*key, index), errors)

    def check_conditions(self) -> list[ManifestError]:
        """Return an error for each reference in the Conditions section to an undeclared condition, parameter or resource.

        CloudFormation rejects the template for such a name even when no
        resource uses the condition, so Squall checks every entry, not only
        the conditions it evaluates.
        """
        errors: list[ManifestError] = []
        for name, value in self._conditions.items():
            key = ("Conditions", str(name))
            if isinstance(value, dict) and set(value) == {"Condition"}:
                self._check_condition_name(value["Condition"], (*key, "Condition"), errors)
            else:
                self._check_value(value, key, errors)
        return errors

    def unknown_condition(self, name: Any, key: KeyPath) -> ManifestError | None:
        """Return the error for `name` when it is no condition of the Conditions section, else None."""
        if isinstance(name, str) and name in self._conditions:
            return None
        valid = ", ".join(self._conditions) or "none are declared"
        meant = closest_key(name, self._conditions) if isinstance(name, str) else None
        hint = f' (did you mean "{meant}"?)' if meant else ""
        return self.source.error(key, expected(f"a condition name from Conditions ({valid})", name) + hint)

    def _check_condition_name(self, name: Any, key: KeyPath, errors: list[ManifestError]) -> None:
        error = self.unknown_condition(name, key)
        if error is not None:
            errors.append(error)

    def _check_call(self, name: str, argument: Any, key: KeyPath, errors: list[ManifestError]) -> None:
        if name == "Ref" and isinstance(argument, str):
            self._check_target(argument, None, key, errors)
        elif name == "Fn::If":
            if isinstance(argument, list) and argument and isinstance(argument[0], str):
                self._check_condition_name(argument[0], (*key, 0), errors)
            self._check_value(argument, key, errors)
        elif name in ("Fn::Not", "Fn::And", "Fn::Or") and isinstance(argument, list):
            # Inside a value, `!Condition Name` is valid only as an argument of these three.
            for index, item in enumerate(argument):
                if isinstance(item, dict) and set(item) == {"Condition"}:
                    self._check_condition_name(item["Condition"], (*key, index, "Condition"), errors)
                else:
                    self._check_value(item, (*key, index), errors)
        elif name == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else argument
            if isinstance(parts, list) and len(parts) == 2 and isinstance(parts[0], str):
                attribute = parts[1] if isinstance(parts[1], str) else None
                self._check_target(parts[0], attribute, key, errors)
                if not isinstance(parts[1], str):
                    self._check_value(parts[1], (*key, 1), errors)
        elif name == "Fn::Sub":
            text, variables = (argument[0], argument[1]) if isinstance(argument, list) and len(argument) == 2 else (
                argument, {})
            if isinstance(variables, dict):
                self._check_value(variables, (*key, 1), errors)
            if isinstance(text, str):
                for match in _SUB_VARIABLE_RE.finditer(text):
                    variable = match.group(1).strip()
                    if variable.startswith("!") or (isinstance(variables, dict) and variable in variables):
                        continue
                    logical_id, dot, attribute = variable.partition(".")
                    if variable.endswith(_PUBLISHED_SUFFIXES):
                        self._check_target(variable, None, key, errors)
                    elif dot and not variable.startswith("AWS::"):
                        self._check_target(logical_id, attribute, key, errors)
                    else:
                        self._check_target(variable, None, key, errors)
        else:
            self._check_value(argument, key, errors)

    def _check_target(self, name: str, attribute: str | None, key: KeyPath, errors: list[ManifestError]) -> None:
        """Record an error when `name` (with `attribute`, for Fn::GetAtt) is not declared."""
        if attribute is None and (name in self.parameters or name in self.pseudo_parameters()):
            return
        try:
            resource = self._lookup(name, key)
        except (ManifestError, Unresolvable):
            return  # the resource exists; its own mistake is reported where it is read
        if resource is None:
            errors.append(self._unknown_name(name, key))
        elif attribute is not None and resource.type_attributes and attribute not in resource.type_attributes:
            errors.append(self.source.error(
                key,
                f"{describe(attribute)} is not an attribute of {name} ({resource.type}), expected one of: "
                + ", ".join(resource.type_attributes),
            ))

    def _sub(self, argument: Any, key: KeyPath) -> str:
        variables: dict[str, Any] = {}
        template = argument
        if isinstance(argument, list):
            if len(argument) != 2 or not isinstance(argument[1], dict):
                raise self.source.error(key, expected("a string, or [string, mapping of variables]", argument))
            template, variables = argument
        if not isinstance(template, str):
            raise self.source.error(key, expected("a string with ${Name} variables", template))

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} writes ${Literal} as it is
            if name in variables:
                return self.resolve_string(variables[name], (*key, 1, name), "a string")
            if name.endswith(_PUBLISHED_SUFFIXES) and self._lookup(name, key) is not None:
                value = self._ref(name, key)  # SAM's ${Function.Alias}, a Ref of the generated alias
            elif "." in name and not name.startswith("AWS::"):
                value = self._get_att(name.split(".", 1), key)
            else:
                value = self._ref(name, key)
            if isinstance(value, list):
                raise self.source.error(key, f"${{{name}}} is a list, expected a string to substitute")
            return str(value)

        return _SUB_VARIABLE_RE.sub(substitute, template)

    def _join(self, argument: Any, key: KeyPath) -> str:
        if not isinstance(argument, list) or len(argument) != 2:
            raise self.source.error(key, expected("[delimiter, list of values]", argument))
        delimiter = self.resolve_string(argument[0], (*key, 0), "a delimiter string")
        items = self.resolve(argument[1], (*key, 1))
        if not isinstance(items, list):
            raise self.source.error((*key, 1), expected("a list of values to join", items))
        texts = []
        for index, item in enumerate(items):
            if isinstance(item, (dict, list)) or item is None:
                raise self.source.error((*key, 1, index), expected("a string", item))
            texts.append(self.resolve_string(item, (*key, 1, index), "a string"))
        return delimiter.join(texts)

    def _select(self, argument: Any, key: KeyPath) -> Any:
        if not isinstance(argument, list) or len(argument) != 2:
            raise self.source.error(key, expected("[index, list of values]", argument))
        index = self.resolve(argument[0], (*key, 0))
        items = self.resolve(argument[1], (*key, 1))
        if not isinstance(items, list):
            raise self.source.error((*key, 1), expected("a list to select from", items))
        position = whole_number(index)
        if position is None or not 0 <= position < len(items):
            raise self.source.error((*key, 0), expected(f"an index from 0 to {len(items) - 1}", index))
        return items[position]

    def _split(self, argument: Any, key: KeyPath) -> list[str]:
        if not isinstance(argument, list) or len(argument) != 2:
            raise self.source.error(key, expected("[delimiter, string]", argument))
        delimiter = self.resolve_string(argument[0], (*key, 0), "a delimiter string")
        text = self.resolve_string(argument[1], (*key, 1), "a string to split")
        if not delimiter:
            raise self.source.error((*key, 0), expected("a delimiter of at least one character", delimiter))
        return text.split(delimiter)

    def _if(self, argument: Any, key: KeyPath) -> Any:
        if not isinstance(argument, list) or len(argument) != 3 or not isinstance(argument[0], str):
            raise self.source.error(key, expected("[condition name, value if true, value if false]", argument))
        chosen = 1 if self.condition(argument[0], (*key, 0)) else 2
        return self.resolve(argument[chosen], (*key, chosen))

    def _find_in_map(self, argument: Any, key: KeyPath) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            raise self.source.error(key, expected("[map name, top-level key, second-level key]", argument))
        names = [self.resolve_string(part, (*key, index), "a key") for index, part in enumerate(argument)]
        value: Any = self._mappings
        where = "Mappings"
        for name in names:
            if not isinstance(value, dict) or name not in value:
                raise self.source.error(key, f"{where} has no key {describe(name)}")
            value = value[name]
            where = f"{where}.{name}"
        return value

    # Conditions --------------------------------------------------------------

    def condition(self, name: Any, key: KeyPath) -> bool:
        """Return the value of a named condition from the Conditions section."""
        unknown = self.unknown_condition(name, key)
        if unknown is not None:
            raise unknown
        if name in self._condition_values:
            return self._condition_values[name]
        if name in self._conditions_in_progress:
            cycle = " -> ".join([*self._conditions_in_progress, name])
            raise self.source.error(("Conditions", name), f"conditions refer to each other in a cycle: {cycle}")

        self._conditions_in_progress.append(name)
        try:
            value = self._condition_value(self._conditions[name], ("Conditions", name))
        finally:
            self._conditions_in_progress.pop()
        self._condition_values[name] = value
        return value

    def _condition_value(self, value: Any, key: KeyPath) -> bool:
        if not isinstance(value, dict) or len(value) != 1:
            raise self.source.error(key, expected("a condition function: Fn::Equals, Fn::Not, Fn::And or Fn::Or", value))
        name, argument = next(iter(value.items()))
        key = (*key, name)
        if name == "Condition":
            return self.condition(argument, key)
        if name == "Fn::Equals":
            if not isinstance(argument, list) or len(argument) != 2:
                raise self.source.error(key, expected("[value, value]", argument))
            first, second = (self.resolve(item, (*key, index)) for index, item in enumerate(argument))
            return _comparable(first) == _comparable(second)
        if name == "Fn::Not":
            if not isinstance(argument, list) or len(argument) != 1:
                raise self.source.error(key, expected("a list of one condition", argument))
            return not self._condition_value(argument[0], (*key, 0))
        if name in ("Fn::And", "Fn::Or"):
            # CloudFormation accepts 2 to 10 conditions in Fn::And and Fn::Or.
            if not isinstance(argument, list) or not 2 <= len(argument) <= 10:
                raise self.source.error(key, expected("a list of 2 to 10 conditions", argument))
            results = (self._condition_value(item, (*key, index)) for index, item in enumerate(argument))
            return all(results) if name == "Fn::And" else any(results)
        raise self.source.error(key, expected("a condition function: Fn::Equals, Fn::Not, Fn::And or Fn::Or", name))


def _comparable(value: Any) -> Any:
    # CloudFormation compares strings, so `!Equals [!Ref Size, 1]` holds when Size is "1".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def whole_number(value: Any) -> int | None:
    """Return a whole number given as an int or a string of digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


@dataclass(frozen=True)
class PropertyReader:
    """Resolves and checks the properties of one mapping, naming each by its key path in messages.

    An Unresolvable value becomes a ManifestError here, because every reader
    method is used for a value Squall needs.
    """

    evaluator: Evaluator
    mapping: Mapping[str, Any]
    base: KeyPath

    def key(self, name: str) -> KeyPath:
        return (*self.base, name)

    def has(self, name: str) -> bool:
        return name in self.mapping

    def value(self, name: str) -> Any:
        """Return the resolved property, or None when it is absent or AWS::NoValue."""
        if name not in self.mapping:
            return None
        try:
            resolved = self.evaluator.resolve(self.mapping[name], self.key(name))
        except Unresolvable as problem:
            raise self.evaluator.source.error(problem.key, problem.reason) from None
        return None if resolved is NO_VALUE else resolved

    def string(self, name: str, what: str) -> str | None:
        value = self.value(name)
        if value is None:
            return None
        try:
            return self.evaluator.resolve_string(value, self.key(name), what)
        except Unresolvable as problem:
            raise self.evaluator.source.error(problem.key, problem.reason) from None

    def integer(self, name: str, default: int, low: int, high: int | None, unit: str) -> int:
        return read_integer(self.evaluator, self.key(name), self.value(name), default, low, high, unit)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.value(name)
        return default if value is None else read_boolean(self.evaluator, self.key(name), value)


def read_integer(
    evaluator: Evaluator, key: KeyPath, value: Any, default: int, low: int, high: int | None, unit: str
) -> int:
    """Check a resolved whole number, which CloudFormation also accepts as a string of digits."""
    if value is None:
        return default
    number = whole_number(value)
    if number is None or number < low or (high is not None and number > high):
        rule = f"{unit} between {low} and {high}" if high is not None else f"{unit}, {low} or more"
        raise evaluator.source.error(key, expected(rule, value))
    return number


def read_boolean(evaluator: Evaluator, key: KeyPath, value: Any) -> bool:
    """Check a resolved boolean, which CloudFormation also accepts as "true" or "false"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise evaluator.source.error(key, expected("true or false", value))


# ARNs -----------------------------------------------------------------------

_ARN_RE = re.compile(r"^arn:[a-z-]+:(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):(?P<account>\d*):(?P<resource>.+)$")


def arn_service(value: str) -> str | None:
    """Return the service part of an ARN ("sqs", "lambda", ...), or None if `value` is no ARN."""
    match = _ARN_RE.match(value)
    return match.group("service") if match else None


def name_from_arn(value: str, service: str) -> str | None:
    """Return the resource name in an ARN of `service`, or None when `value` is not such an ARN.

    Understands the ARNs of SQS queues, Lambda functions (with or without a
    qualifier), S3 buckets, DynamoDB tables and their streams, and Kinesis
    streams and their consumers.
    """
    match = _ARN_RE.match(value)
    if match is None or match.group("service") != service:
        return None
    resource = match.group("resource")
    if service in ("sqs", "s3"):
        return resource or None
    if service == "lambda":
        parts = resource.split(":")
        return parts[1] if len(parts) >= 2 and parts[0] == "function" else None
    if service == "dynamodb":
        parts = resource.split("/")
        return parts[1] if len(parts) >= 2 and parts[0] == "table" else None
    if service == "kinesis":
        parts = resource.split("/")
        return parts[1] if len(parts) >= 2 and parts[0] == "stream" else None
    return None


def arn(service: str, resource: str) -> str:
    """Build an ARN of Squall's form, in the server's region and Squall's account."""
    if service == "s3":
        return f"arn:{PARTITION}:s3:::{resource}"
    return f"arn:{PARTITION}:{service}:{server_region()}:{ACCOUNT_ID}:{resource}"
