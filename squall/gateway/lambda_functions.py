"""Lambda API operations that describe functions and their versions and aliases.

GetFunction, GetFunctionConfiguration, ListFunctions, ListVersionsByFunction,
ListAliases and GetAlias.

They return the fields of Lambda's FunctionConfiguration that Squall has a
value for, so that boto3 callers that check a function's existence or
settings before invoking it work. Squall has no IAM, so `Role` names a role
that does not exist. `Code.Location` downloads the version's code as a zip
file (see `code_download`), but `CodeSha256` and `CodeSize` describe the
code copy, not that file.

`Layers` lists a function's layers in the order it declares them, and is
left out for a function without layers, as Lambda leaves it out.

As on Lambda, the list operations leave out `State`, `LastUpdateStatus` and
`RuntimeVersionConfig`, which only GetFunction and GetFunctionConfiguration
return. A list names `$LATEST` by its qualified ARN (`...:fn:$LATEST`),
except ListFunctions without FunctionVersion=ALL, which gives the
unqualified one. A get operation's `FunctionArn` ends with the qualifier the
caller gave, so that an alias's ARN ends with the alias name, while
`Version` is the alias's main version.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import platform
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from squall.deploy.layers import split_layer_version
from squall.deploy.snapshot import code_files
from squall.dispatcher.dispatcher import Dispatcher, runtime_version_arn
from squall.errors import FunctionNotFound, SquallError
from squall.gateway import code_download
from squall.manifest.spec import FunctionSpec, LayerSpec, ServiceSpec
from squall.versions import Alias

LATEST = "$LATEST"
EPHEMERAL_STORAGE_MB = 512  # Lambda's default /tmp size
_ARCHITECTURES = {"aarch64": "arm64", "arm64": "arm64"}


def function_configuration(
    dispatcher: Dispatcher,
    service: ServiceSpec,
    spec: FunctionSpec,
    version: str = LATEST,
    arn_qualifier: str | None = None,
) -> dict[str, Any]:
    """Build the FunctionConfiguration fields that Lambda's list operations return for one function version.

    `FunctionArn` ends with `arn_qualifier` ("$LATEST", a version or an alias), or has none when it is None.
    """
    settings = dispatcher.settings
    root = Path(service.root)
    log_format = "JSON" if spec.json_logs else "Text"
    logging_config: dict[str, Any] = {"LogFormat": log_format, "LogGroup": f"/aws/lambda/{spec.name}"}
    if log_format == "JSON":
        logging_config["ApplicationLogLevel"] = spec.environment.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper()
        logging_config["SystemLogLevel"] = "INFO"
    arn = dispatcher.arn(spec.name)
    configuration: dict[str, Any] = {
        "FunctionName": spec.name,
        "FunctionArn": arn if arn_qualifier is None else f"{arn}:{arn_qualifier}",
        "Runtime": _runtime(spec.runtime),
        "Role": f"arn:aws:iam::{settings.account_id}:role/{service.service}-role",
        "Handler": spec.handler,
        "CodeSize": _folder_bytes(root),
        "Description": "",
        "Timeout": spec.timeout_s,
        "MemorySize": spec.memory_mb,
        "LastModified": _last_modified(root),
        "CodeSha256": _code_sha256(root),
        "Version": version,
        "Environment": {"Variables": dict(spec.environment)},
        "TracingConfig": {"Mode": "PassThrough"},
        # The code copy's digest names the revision: it changes with every change of code or manifest.
        "RevisionId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}:{version}:{root.name}")),
        "PackageType": "Zip",
        "Architectures": [_ARCHITECTURES.get(platform.machine(), "x86_64")],
        "EphemeralStorage": {"Size": EPHEMERAL_STORAGE_MB},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": logging_config,
    }
    if spec.layers:
        configuration["Layers"] = _layers(dispatcher, service, spec)
    return configuration


def layer_version_arn(dispatcher: Dispatcher, name: str, digest: str) -> str:
    """Return the ARN of a layer version: "arn:aws:lambda:REGION:ACCOUNT:layer:NAME:DIGEST".

    NOTE: Lambda numbers layer versions 1, 2, 3, ... and Squall names them by
    the digest of their content, so the last part is hexadecimal, not a number.
    """
    settings = dispatcher.settings
    return f"arn:aws:lambda:{settings.region}:{settings.account_id}:layer:{name}:{digest}"


def _layers(dispatcher: Dispatcher, service: ServiceSpec, spec: FunctionSpec) -> list[dict[str, Any]]:
    """List a function's layers as Lambda's FunctionConfiguration does: the ARN and size of each, in order."""
    declared = {layer.name: layer for layer in service.layers}
    layers = []
    for version in spec.layers:
        name, digest = split_layer_version(version)
        layer = declared.get(name)
        size = _layer_bytes(Path(service.root), layer) if layer is not None else 0
        layers.append({"Arn": layer_version_arn(dispatcher, name, digest), "CodeSize": size})
    return layers


def _layer_bytes(root: Path, layer: LayerSpec) -> int:
    """Return a layer's size in the code copy: a .zip file's size, as Lambda's CodeSize, or the sum of a folder's files.

    A folder counts the files its digest covers, without the bytecode a deploy adds.
    """
    path = root / layer.path
    try:
        if path.is_dir():
            return sum(file.stat().st_size for _, file in code_files(path))
        return path.stat().st_size
    except OSError:
        return 0  # removed while it was being measured


async def get_function(dispatcher: Dispatcher, name: str, qualifier: str | None, scope: dict[str, Any]) -> dict[str, Any]:
    """Build GetFunction's response; raises FunctionNotFound for an unknown function or qualifier.

    `scope` is the request's, whose host the code's download URL names.
    """
    service, spec, version = await _find(dispatcher, name, qualifier)
    response: dict[str, Any] = {
        "Configuration": await _configuration(dispatcher, service, spec, version, qualifier),
        "Code": {"RepositoryType": "S3", "Location": code_download.location(scope, name, version)},
    }
    if spec.reserved_concurrency is not None:
        response["Concurrency"] = {"ReservedConcurrentExecutions": spec.reserved_concurrency}
    return response


async def code_root(dispatcher: Dispatcher, name: str, version: str) -> Path:
    """Return the folder of a function version's code copy; raises FunctionNotFound as get_function does."""
    service, spec, _ = await _find(dispatcher, name, version)
    return spec.code_root(Path(service.root))


async def get_function_configuration(dispatcher: Dispatcher, name: str, qualifier: str | None) -> dict[str, Any]:
    """Build GetFunctionConfiguration's response; raises FunctionNotFound as get_function does."""
    service, spec, version = await _find(dispatcher, name, qualifier)
    return await _configuration(dispatcher, service, spec, version, qualifier)


async def _configuration(
    dispatcher: Dispatcher, service: ServiceSpec, spec: FunctionSpec, version: str, qualifier: str | None
) -> dict[str, Any]:
    """Build a version's whole configuration, with the description it was published with."""
    configuration = function_configuration(dispatcher, service, spec, version, qualifier or None)
    configuration["State"] = "Active"
    configuration["LastUpdateStatus"] = "Successful"
    configuration["RuntimeVersionConfig"] = {"RuntimeVersionArn": _runtime_version_arn(dispatcher)}
    if version != LATEST and dispatcher.versions is not None:
        published = await asyncio.to_thread(dispatcher.versions.get, spec.name, int(version))
        configuration["Description"] = published.description
    return configuration


def list_functions(dispatcher: Dispatcher, all_versions: bool = False) -> dict[str, Any]:
    """Build ListFunctions' response: the `$LATEST` configuration of every deployed function, by name.

    With `all_versions` (FunctionVersion=ALL), each function's published versions follow its `$LATEST`.
    """
    found: list[dict[str, Any]] = []
    for service, spec in sorted(_deployed(dispatcher), key=lambda pair: pair[1].name):
        if all_versions:
            found.append(function_configuration(dispatcher, service, spec, LATEST, LATEST))
            found += _published_configurations(dispatcher, spec.name)
        else:
            found.append(function_configuration(dispatcher, service, spec))
    return {"Functions": found}


def list_versions(dispatcher: Dispatcher, name: str) -> dict[str, Any]:
    """Build ListVersionsByFunction's response: `$LATEST`, then each published version, oldest first."""
    for service, spec in _deployed(dispatcher):
        if spec.name == name:
            latest = function_configuration(dispatcher, service, spec, LATEST, LATEST)
            return {"Versions": [latest, *_published_configurations(dispatcher, name)]}
    raise FunctionNotFound(name)


def list_aliases(dispatcher: Dispatcher, name: str) -> dict[str, Any]:
    """Build ListAliases' response; raises FunctionNotFound for a function that is not deployed."""
    if not any(spec.name == name for _, spec in _deployed(dispatcher)):
        raise FunctionNotFound(name)
    aliases = dispatcher.versions.aliases(name) if dispatcher.versions is not None else []
    return {"Aliases": [_alias_configuration(dispatcher, alias) for alias in aliases]}


def get_alias(dispatcher: Dispatcher, name: str, alias_name: str) -> dict[str, Any] | None:
    """Build GetAlias's response, or None when the function has no such alias; raises FunctionNotFound as list_aliases does."""
    for alias in list_aliases(dispatcher, name)["Aliases"]:
        if alias["Name"] == alias_name:
            return alias
    return None


def _deployed(dispatcher: Dispatcher) -> list[tuple[ServiceSpec, FunctionSpec]]:
    return [(service, spec) for service in dispatcher.services.values() for spec in service.functions.values()]


def _published_configurations(dispatcher: Dispatcher, name: str) -> list[dict[str, Any]]:
    if dispatcher.versions is None:
        return []
    configurations = []
    for published in dispatcher.versions.versions(name):
        try:
            service = dispatcher.versions.load(name, str(published.version))
        except (LookupError, OSError, SquallError):
            continue  # its code copy is gone; an Invoke of it returns the error
        version = str(published.version)
        configuration = function_configuration(dispatcher, service, service.functions[name], version, version)
        configuration["Description"] = published.description
        configurations.append(configuration)
    return configurations


def _alias_configuration(dispatcher: Dispatcher, alias: Alias) -> dict[str, Any]:
    arn = f"{dispatcher.arn(alias.function)}:{alias.name}"
    configuration: dict[str, Any] = {
        "AliasArn": arn,
        "Name": alias.name,
        "FunctionVersion": alias.version,
        "Description": "",
        # Changes whenever the alias points elsewhere, as Lambda's revision id does.
        "RevisionId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}:{alias.version}:{alias.extra_version}:{alias.extra_weight}")),
    }
    if alias.extra_version is not None:
        configuration["RoutingConfig"] = {"AdditionalVersionWeights": {str(alias.extra_version): alias.extra_weight}}
    return configuration


async def _find(dispatcher: Dispatcher, name: str, qualifier: str | None) -> tuple[ServiceSpec, FunctionSpec, str]:
    """Return the service and spec of a function version, and the version ("$LATEST" or a number).

    A weighted alias selects its main version.
    """
    version = dispatcher.resolve_version(name, qualifier, weighted=False)
    if version == LATEST or dispatcher.versions is None:
        for service in dispatcher.services.values():
            if name in service.functions:
                return service, service.functions[name], LATEST
        raise FunctionNotFound(name)
    try:
        published = dispatcher.versions.load(name, version)
    except LookupError:
        raise FunctionNotFound(name) from None
    return published, published.functions[name], version


def _runtime(declared: str) -> str:
    # Every function runs on the server's Python, which a bare "python3" leaves unnamed.
    if declared.count(".") == 1:
        return declared
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def _runtime_version_arn(dispatcher: Dispatcher) -> str:
    return runtime_version_arn(dispatcher.settings.region)


def _folder_bytes(root: Path) -> int:
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except OSError:
                continue  # removed while it was being counted
    return total


def _last_modified(root: Path) -> str:
    # Lambda's format: 2026-12-05T08:00:00.000+0000. A code copy is written once, at its deploy.
    try:
        moment = root.stat().st_mtime
    except OSError:
        moment = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment * 1000) % 1000:03d}+0000"


def _code_sha256(root: Path) -> str:
    # Lambda gives the SHA-256 of the zip file in base64. Squall has no zip, so
    # this is the SHA-256 of the code copy's own digest (its folder name): it has
    # Lambda's length and changes whenever the code or the manifest does.
    return base64.b64encode(hashlib.sha256(root.name.encode()).digest()).decode()
