"""Resolution of Serverless Framework variables such as `${self:custom.memory}` in a serverless.yml.

The rules follow the Framework's documentation of its variables (v3, which
v4 keeps for these sources):

- `${source:address}` is replaced by the value it names. A string that is one
  variable and nothing else takes the value's type (a number, a mapping, ...).
  A variable inside a longer string must name a string, number or boolean.
- `${source:address, fallback, ...}` tries each fallback in turn when the
  source finds nothing. A fallback is a quoted string, a number, true, false,
  null, another variable written with or without `${}`, or a bare word.
- Variables nest: `${self:custom.${sls:stage}.bucket}` resolves the inner one first.
- Only a source name followed by `:` or `(` starts a variable. `${AWS::Region}`
  and `${MyQueue.Arn}` are CloudFormation `Fn::Sub` placeholders and stay as written.

Sources: `self` (a key of this file, itself resolved), `env` (the environment
of the Squall process), `opt` (the loader's options: `stage`, `region`, ...),
`sls:stage`, `sls:instanceId`, `aws:region`, `aws:accountId`, `param` (`params.<stage>` or v4's
`stages.<stage>.params`, then their `default`), `file(path)` with an optional
`:key.path`, and `strToBool(...)`. Sources that read AWS (`ssm`, `s3`, `cf`,
...) find nothing, so only their fallback can apply.

A Squall deploy goes to the region the server runs as (`squall up --region`),
so `${aws:region}` resolves to that region, not to `provider.region`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from squall.manifest.serverless_common import CloudFormationTag, ServerlessLoader, javascript_number_text
from squall.manifest.validate import KeyPath, ManifestSource, describe, dotted

logger = logging.getLogger(__name__)

DEFAULT_STAGE = "dev"
DEFAULT_REGION = "us-east-1"
# The shape of an AWS region name: the region part of the FunctionName pattern
# in the Lambda API model (botocore 1.44), which the Invoke API also checks
# ARNs against. It matches us-east-1, us-gov-west-1, us-isob-east-1 and eusc-de-east-1.
# NOTE: Squall's ARNs keep the partition "aws" in every region, where AWS
# writes aws-us-gov, aws-cn or aws-iso* for the regions of those partitions.
REGION_PATTERN = re.compile(r"(eusc-)?[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d")
# The account id Squall uses wherever AWS would show one.
DEFAULT_ACCOUNT_ID = "000000000000"

SUPPORTED_SOURCES = ("self", "env", "opt", "sls", "aws", "param", "file", "strToBool")
# Sources that need AWS or a Serverless dashboard, which Squall does not call.
_REMOTE_SOURCES = frozenset({"ssm", "s3", "cf", "secretsmanager", "git", "doppler", "terraform", "vault", "state"})

# A source name, then "(parameters)" and/or ":address". The negative look-ahead
# keeps "${AWS::Region}" out; a name with neither part ("${MyQueue}") is no variable.
_REFERENCE_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(?:\((.*)\))?(?::(?!:)(.*))?$", re.DOTALL)
_NUMBER_RE = re.compile(r"^-?\d+(?:\.\d+)?$")
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}


class _Missing:
    """The value of a lookup that found nothing, so that the next fallback applies."""


_MISSING = _Missing()


class _NotFound(Exception):
    """Raised by a source that found no value; the message names what was looked up."""


def resolve_variables(
    document: Any,
    source: ManifestSource,
    options: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """Return a copy of `document` with every Serverless variable replaced by its value.

    `options` replaces the Framework's command-line options (`stage`,
    `region`, ...) and `environ` for the environment (default: os.environ).
    Raises ManifestError, naming the key whose value contains the variable, when
    a variable cannot be resolved and has no fallback, or when variables form a cycle.
    """
    resolver = _Resolver(document, source, dict(options or {}), os.environ if environ is None else environ)
    return resolver.resolve_document()


# The region this process's server runs as. It is process-wide, not passed
# along, because a server loads manifests on worker threads and again for each
# published version, and one server process has one region.
_server_region = DEFAULT_REGION


def server_region() -> str:
    """Return the region manifests resolve to: the server's `--region`, else us-east-1."""
    return _server_region


def set_server_region(region: str) -> None:
    """Make `${aws:region}`, `AWS::Region` and the ARNs of manifests loaded in this process name `region`.

    Raises ValueError when `region` is not shaped like an AWS region name.
    """
    global _server_region
    _server_region = check_region(region)


def is_region_name(value: Any) -> bool:
    """Tell whether `value` is a string shaped like an AWS region name, such as eu-west-1."""
    return isinstance(value, str) and REGION_PATTERN.fullmatch(value) is not None


def check_region(region: str) -> str:
    """Return `region` when it is shaped like an AWS region name; raise ValueError naming it otherwise."""
    if not is_region_name(region):
        raise ValueError(
            f"invalid region {region!r}: expected an AWS region name such as eu-west-1"
            " (lowercase letters, hyphens and a final digit, as in us-east-1, ap-southeast-3 or us-gov-west-1)"
        )
    return region


def effective_stage(document: Any, options: Mapping[str, str] | None = None) -> str:
    """Return the stage as `${sls:stage}` does: the stage option, then provider.stage, then "dev"."""
    return _effective(document, options, "stage", DEFAULT_STAGE)


def effective_region(options: Mapping[str, str] | None = None) -> str:
    """Return the region a deploy goes to: the region option, else the server's region.

    `provider.region` does not count, because the server runs every function
    in its own region.
    """
    if options and options.get("region"):
        return str(options["region"])
    return server_region()


def _effective(document: Any, options: Mapping[str, str] | None, name: str, default: str) -> str:
    if options and options.get(name):
        return str(options[name])
    provider = document.get("provider") if isinstance(document, dict) else None
    value = provider.get(name) if isinstance(provider, dict) else None
    return str(value) if isinstance(value, (str, int)) and value != "" else default


class _Expression(str):
    """The text between `${` and its `}` in a string being resolved."""


def _split_string(text: str) -> list[str]:
    """Split a string into literal text and `_Expression` parts, matching nested braces."""
    parts: list[str] = []
    literal_start = 0
    index = 0
    while True:
        start = text.find("${", index)
        if start < 0:
            break
        depth = 0
        end = -1
        position = start + 1
        while position < len(text):
            character = text[position]
            if character == "{":
                depth += 1
            elif character == "}":
                depth -= 1
                if depth == 0:
                    end = position
                    break
            position += 1
        if end < 0:
            break  # an unclosed "${" is text, as the Framework leaves it
        inner = text[start + 2 : end]
        if _is_variable(inner):
            if start > literal_start:
                parts.append(text[literal_start:start])
            parts.append(_Expression(inner))
            literal_start = end + 1
        index = end + 1
    if literal_start < len(text):
        parts.append(text[literal_start:])
    return parts


def _is_variable(inner: str) -> bool:
    primary = _split_top_level(inner)[0].strip()
    match = _REFERENCE_RE.match(primary)
    return match is not None and (match.group(2) is not None or match.group(3) is not None)


def _split_top_level(text: str) -> list[str]:
    """Split at commas that are outside quotes, parentheses and nested `${...}`."""
    pieces: list[str] = []
    depth = 0
    quote = ""
    current = ""
    for character in text:
        if quote:
            if character == quote:
                quote = ""
        elif character in "'\"":
            quote = character
        elif character in "({":
            depth += 1
        elif character in ")}":
            depth -= 1
        elif character == "," and depth == 0:
            pieces.append(current)
            current = ""
            continue
        current += character
    pieces.append(current)
    return pieces


class _Resolver:
    """Resolves one serverless.yml lazily, so that `self` references see resolved values.

    Values are cached by their key path. Paths being resolved are kept in
    `active`, so a variable that depends on itself is reported as a cycle.
    A file brought in with `file(name)` is cached under the one-part key
    "file(name)", apart from the main document's paths.
    """

    def __init__(self, document: Any, source: ManifestSource, options: dict[str, str], environ: Mapping[str, str]) -> None:
        self.raw = document
        self.source = source
        self.options = options
        self.environ = environ
        self.cache: dict[KeyPath, Any] = {}
        self.active: dict[KeyPath, None] = {}  # insertion-ordered, for the cycle message

    def resolve_document(self) -> Any:
        return self.resolve_at(self.raw, (), ())

    # Walking the document ----------------------------------------------------

    def resolve_at(self, node: Any, path: KeyPath, where: KeyPath) -> Any:
        """Resolve the value stored at `path`, caching it; `where` is the key named in errors."""
        if path in self.cache:
            return self.cache[path]
        if path in self.active:
            cycle = [dotted(key) or "(the whole file)" for key in (*self.active, path)]
            start = cycle.index(cycle[-1])
            raise self.source.error(
                where, "variables refer to each other in a cycle: " + " -> ".join(cycle[start:])
            )
        self.active[path] = None
        try:
            value = self.resolve_value(node, path, where)
        finally:
            del self.active[path]
        self.cache[path] = value
        return value

    def resolve_value(self, node: Any, path: KeyPath, where: KeyPath) -> Any:
        if isinstance(node, str):
            return self.resolve_string(node, where)
        if isinstance(node, dict):
            return {
                key: self.resolve_at(child, (*path, str(key)), (*where, str(key)))
                for key, child in node.items()
            }
        if isinstance(node, list):
            return [
                self.resolve_at(child, (*path, index), (*where, index))
                for index, child in enumerate(node)
            ]
        if isinstance(node, CloudFormationTag):
            return CloudFormationTag(node.tag, self.resolve_value(node.value, (*path, "!"), where))
        return node

    def resolve_string(self, text: str, where: KeyPath) -> Any:
        parts = _split_string(text)
        if len(parts) == 1 and isinstance(parts[0], _Expression):
            return self.resolve_expression(parts[0], where)

        pieces: list[str] = []
        for part in parts:
            if not isinstance(part, _Expression):
                pieces.append(part)
                continue
            value = self.resolve_expression(part, where)
            if isinstance(value, bool):
                pieces.append("true" if value else "false")
            elif isinstance(value, (int, float)):
                pieces.append(javascript_number_text(value))
            elif isinstance(value, str):
                pieces.append(value)
            else:
                raise self.source.error(
                    where,
                    f"variable ${{{part}}} in {describe(text)} resolves to {describe(value)}, expected a "
                    "string, number or boolean to put into the text (or use the variable as the whole value)",
                )
        return "".join(pieces)

    def lookup(self, parts: list[str | int], where: KeyPath) -> Any:
        """Return the resolved value at a key path of the document, or _MISSING."""
        node: Any = self.raw
        path: KeyPath = ()
        final = False  # True once the walk has gone through a resolved value
        for part in parts:
            if not final and isinstance(node, str):
                node = self.resolve_at(node, path, where)
                final = True
            if isinstance(node, dict) and str(part) in node:
                part = str(part)
            elif isinstance(node, list) and str(part).isdigit() and int(part) < len(node):
                part = int(part)
            else:
                return _MISSING
            node = node[part]
            path = (*path, part)
        return node if final else self.resolve_at(node, path, where)

    # One ${...} expression ---------------------------------------------------

    def resolve_expression(self, expression: str, where: KeyPath) -> Any:
        candidates = _split_top_level(expression)
        reasons: list[str] = []
        for candidate in candidates:
            value = self.evaluate_candidate(candidate.strip(), where, reasons)
            if value is not _MISSING:
                return value

        primary = self.substitute(candidates[0].strip(), where)
        # Squall starts without command-line options, so a bare ${opt:stage}
        # or ${opt:region} means the stage or region it deploys to. In
        # provider.stage itself, that is the default stage.
        if primary == "opt:stage":
            return DEFAULT_STAGE if where == ("provider", "stage") else self.stage(where)
        if primary == "opt:region":
            return self.region()
        raise self.source.error(
            where,
            f"cannot resolve ${{{expression}}}: {'; '.join(reasons)}, and no fallback applies; "
            f"expected the value to exist, or a fallback such as ${{{primary}, 'value'}}",
        )

    def evaluate_candidate(self, candidate: str, where: KeyPath, reasons: list[str]) -> Any:
        if not candidate:
            raise self.source.error(where, "empty fallback in a variable, expected a value after the comma")
        if len(candidate) >= 2 and candidate[0] in "'\"" and candidate[-1] == candidate[0]:
            return candidate[1:-1]
        if _NUMBER_RE.match(candidate):
            return float(candidate) if "." in candidate else int(candidate)
        if candidate in _LITERALS:
            return _LITERALS[candidate]

        parts = _split_string(candidate)
        if len(parts) == 1 and isinstance(parts[0], _Expression):
            nested = _split_top_level(parts[0])
            for piece in nested:
                value = self.evaluate_candidate(piece.strip(), where, reasons)
                if value is not _MISSING:
                    return value
            return _MISSING

        reference = self.substitute(candidate, where)
        match = _REFERENCE_RE.match(reference)
        if match is None or (match.group(2) is None and match.group(3) is None):
            return reference  # a bare word, used as written
        try:
            return self.read_source(match.group(1), match.group(2), match.group(3), where)
        except _NotFound as missing:
            reasons.append(str(missing))
            return _MISSING

    def substitute(self, text: str, where: KeyPath) -> str:
        """Resolve the variables nested in a reference, such as the stage in `self:custom.${sls:stage}`."""
        if "${" not in text:
            return text
        value = self.resolve_string(text, where)
        return value if isinstance(value, str) else str(value)

    # Sources -----------------------------------------------------------------

    def read_source(self, name: str, parameters: str | None, address: str | None, where: KeyPath) -> Any:
        address = (address or "").strip()
        if name == "secret":
            # Squall's own secrets stay references here: the server resolves
            # them only when it builds an instance's environment.
            return f"${{secret:{address}}}"
        if name == "self":
            return self.read_self(address, where)
        if name == "env":
            if address not in self.environ:
                raise _NotFound(f"environment variable {address} is not set")
            return self.environ[address]
        if name == "opt":
            if address not in self.options:
                raise _NotFound(f"option {address} was not given")
            return self.options[address]
        if name == "sls":
            if address == "stage":
                return self.stage(where)
            if address == "instanceId":
                return self.instance_id()
            raise self.source.error(
                where, f'unsupported address {describe(address)} of the "sls" source, expected "stage" or "instanceId"'
            )
        if name == "aws":
            if address == "region":
                return self.region()
            if address == "accountId":
                return DEFAULT_ACCOUNT_ID
            raise self.source.error(
                where, f'unsupported address {describe(address)} of the "aws" source, expected "region" or "accountId"'
            )
        if name == "param":
            return self.read_parameter(address, where)
        if name == "file":
            return self.read_file(_unquote((parameters or "").strip()), address, where)
        if name == "strToBool":
            return self.string_to_bool(_unquote((parameters or "").strip()), where)
        if name in _REMOTE_SOURCES:
            raise _NotFound(f'the "{name}" source reads AWS or a Serverless service, which Squall does not do')
        raise _NotFound(f'"{name}" is not a variable source Squall knows ({", ".join(SUPPORTED_SOURCES)})')

    def read_self(self, address: str, where: KeyPath) -> Any:
        if not address:
            raise self.source.error(where, 'expected a key path after "self:", such as self:custom.memory')
        parts: list[str | int] = list(address.split("."))
        value = self.lookup(parts, where)
        if value is _MISSING or value is None:
            # The Framework's defaults for the provider's keys. An unset region is the
            # one the deploy goes to: us-east-1 for the Framework, the server's region here.
            if address == "provider.stage":
                return DEFAULT_STAGE
            if address == "provider.region":
                return self.region()
            raise _NotFound(f"{address} is not set in {self.source.display}")
        return value

    def stage(self, where: KeyPath) -> str:
        if self.options.get("stage"):
            return self.options["stage"]
        value = self.lookup(["provider", "stage"], where)
        return DEFAULT_STAGE if value is _MISSING or value in (None, "") else str(value)

    def instance_id(self) -> str:
        """Return `${sls:instanceId}`: 13 digits that change when the manifest or the stage and region options change.

        The Framework uses the time its CLI started, in milliseconds, which is
        new at every deploy. Squall resolves a deployed manifest again at each
        restart and for each published version, so its id is a digest of the
        unresolved file and the options instead, the same every time.
        """
        # repr is deterministic for what YAML builds (mappings keep the file's order) and takes any key type.
        content = repr((self.raw, sorted(self.options.items())))
        digest = hashlib.sha256(content.encode()).digest()
        return str(int.from_bytes(digest[:8], "big") % 10**13).zfill(13)

    def region(self) -> str:
        return effective_region(self.options)

    def read_parameter(self, name: str, where: KeyPath) -> Any:
        stage = self.stage(where)
        # v3 keeps parameters under params.<stage>; v4 under stages.<stage>.params.
        for parts in (
            ["params", stage, name],
            ["stages", stage, "params", name],
            ["params", "default", name],
            ["stages", "default", "params", name],
        ):
            value = self.lookup(list(parts), where)
            if value is not _MISSING and value is not None:
                return value
        raise _NotFound(f"parameter {name} is set neither for stage {stage} nor as a default")

    def read_file(self, name: str, address: str, where: KeyPath) -> Any:
        if not name:
            raise self.source.error(where, "expected a file name in file(...), such as file(./config.yml)")
        # The Framework reads paths relative to the service folder.
        path = (self.source.root / name).resolve()
        if not path.is_file():
            raise _NotFound(f"file {name} does not exist in {self.source.root}")
        key: KeyPath = (f"file({name})",)
        content = self.cache[key] if key in self.cache else self.resolve_at(self.load_file(path, name, where), key, where)
        if not address:
            return content
        node = content
        for part in address.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise _NotFound(f"{address} is not set in {name}")
        if node is None:
            raise _NotFound(f"{address} is not set in {name}")
        return node

    def load_file(self, path: Path, name: str, where: KeyPath) -> Any:
        suffix = path.suffix.lower()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise self.source.error(where, f"file {name} cannot be read: {error}") from None
        try:
            if suffix in (".yml", ".yaml"):
                return yaml.load(text, Loader=ServerlessLoader)  # noqa: S506 - loader derives from SafeLoader
            if suffix == ".json":
                return json.loads(text)
        except (yaml.YAMLError, ValueError) as error:
            raise self.source.error(where, f"file {name} is not valid {suffix[1:].upper()}: {error}") from None
        raise self.source.error(
            where, f"file {name} cannot be read by Squall, expected a .yml, .yaml or .json file (JavaScript files are not run)"
        )

    def string_to_bool(self, text: str, where: KeyPath) -> bool:
        value = self.substitute(text, where).strip()
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise self.source.error(where, f'strToBool: expected "true", "false", "1" or "0", got {describe(value)}')


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0]:
        return text[1:-1]
    return text
