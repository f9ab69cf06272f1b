"""Reader of AWS SAM templates, template.yaml.

Squall reads a SAM template the way `sam deploy` would translate it, with
these choices of its own:

- The service (the stack) is named by the `stack_name` argument, else by
  `stack_name` in samconfig.toml or samconfig.yaml (`default.deploy.parameters`,
  else `default.global.parameters`), else by the template's folder.
  `AWS::StackName` resolves to that name.
- Parameter values come from the `parameters` argument (`squall deploy
  --parameter-overrides`), else from `parameter_overrides` in that file,
  else from each `Default`. The
  warnings name the settings read from the file.
- Each AWS::Serverless::Function is named by its logical id. Its `CodeUri`
  folder is its code root, as on Lambda: with `CodeUri: src/` and
  `Handler: app.handler`, instances run in `src` and import `app` from it.
- Data resources are named as sam_resources.py describes.

A property Squall cannot translate is listed once in `ServiceSpec.warnings`
with its key path, such as `Resources.Worker.Properties.Policies`. A value
Squall needs but cannot compute (a handler, a trigger's source) is an error.
So is what `sam deploy` rejects: a section, property, event key or
resource attribute that SAM or CloudFormation does not define. A reference
to an undeclared name in any section is an error too, such as a resource in
`DependsOn` or a condition in `Condition` or `!Condition`.
The template's `Metadata`, a resource's `DependsOn`, `Metadata`,
`DeletionPolicy` and `UpdateReplacePolicy`, and `Description` anywhere
change nothing in Squall. They are checked as CloudFormation checks them
and otherwise accepted silently.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from squall.deploy.layers import PATH_RULE, check_function_layers, check_layer
from squall.deploy.variables import parse_parameter_overrides
from squall.errors import ManifestError
from squall.manifest.sam_events import EventReader, read_http_api_cors, read_rest_cors, rule_schedules
from squall.manifest.sam_intrinsics import (
    NO_VALUE,
    Evaluator,
    Parameter,
    PropertyReader,
    SamLoader,
    Unresolvable,
    Warnings,
    check_defined_keys,
    is_function,
    read_boolean,
    read_integer,
    unknown_key_error,
    whole_number,
)
from squall.manifest.sam_resources import (
    BUCKET_TYPE,
    FUNCTION_TYPE,
    HTTP_API_TYPE,
    LAYER_TYPE,
    PERMISSION_TYPES,
    QUEUE_TYPE,
    REST_API_TYPE,
    RULE_TYPE,
    SIMPLE_TABLE_TYPE,
    STREAM_TYPE,
    TABLE_TYPE,
    RESOURCE_PROPERTIES,
    ResourceCatalog,
    TemplateResource,
    misspelt_type,
)
from squall.manifest.serverless_keys import closest_key
from squall.manifest.serverless_variables import DEFAULT_REGION, is_region_name, server_region
from squall.manifest.squall_events import read_binary_media_types
from squall.manifest.spec import (
    ALIAS_PATTERN,
    CorsConfig,
    MAX_MEMORY_MB,
    MAX_TIMEOUT_S,
    MIN_MEMORY_MB,
    AsyncConfig,
    Destination,
    FunctionSpec,
    LayerSpec,
    RecursiveLoop,
    Resources,
    ServiceSpec,
    Trigger,
)
from squall.manifest.validate import (
    ENVIRONMENT_NAME_RE,
    ENVIRONMENT_NAME_RULE,
    FUNCTION_NAME_RE,
    FUNCTION_NAME_RULE,
    HANDLER_RULE,
    SERVICE_NAME_RE,
    SERVICE_NAME_RULE,
    KeyPath,
    ManifestProblems,
    ManifestSource,
    Route,
    check_environment_names,
    check_handler,
    check_routes,
    describe,
    environment_value,
    expected,
    log_setting_variables,
    names_other_language,
)

__all__ = ["SAM_TRANSFORM", "SamLoader", "parse_sam_template", "read_samconfig"]

logger = logging.getLogger(__name__)

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
# The properties SAM defines for AWS::Serverless::Function (SAM specification,
# 2025); SAM rejects any other. Squall reads those in _FUNCTION_KEYS.
SAM_FUNCTION_PROPERTIES = frozenset({
    "Architectures", "AssumeRolePolicyDocument", "AutoPublishAlias", "AutoPublishAliasAllProperties",
    "AutoPublishCodeSha256", "CapacityProviderConfig", "CodeSigningConfigArn", "CodeUri", "DeadLetterQueue",
    "DeploymentPreference", "Description", "DurableConfig", "Environment", "EphemeralStorage", "EventInvokeConfig",
    "Events", "FileSystemConfigs", "FunctionName", "FunctionScalingConfig", "FunctionUrlConfig", "Handler",
    "ImageConfig", "ImageUri", "InlineCode", "KmsKeyArn", "Layers", "LoggingConfig", "MemorySize", "PackageType",
    "PermissionsBoundary", "Policies", "PropagateTags", "ProvisionedConcurrencyConfig", "PublishToLatestPublished",
    "RecursiveLoop", "ReservedConcurrentExecutions", "Role", "RolePath", "Runtime", "RuntimeManagementConfig",
    "SnapStart", "SourceKMSKeyArn", "Tags", "TenancyConfig", "Timeout", "Tracing", "VersionDeletionPolicy",
    "VersionDescription", "VpcConfig",
})
# The LoggingConfig settings Squall reads, as the variables Lambda sets from them.
_LOGGING_VARIABLES = {"LogFormat": "AWS_LAMBDA_LOG_FORMAT", "ApplicationLogLevel": "AWS_LAMBDA_LOG_LEVEL"}
# The keys CloudFormation defines in a function's Environment.
_ENVIRONMENT_KEYS = ("Variables",)
_GLOBALS_SECTIONS = ("Function", "Api", "HttpApi", "SimpleTable", "LayerVersion", "StateMachine", "CapacityProvider")
# The properties SAM accepts in Globals.Api (its Globals plugin and the "Globals section" page of
# the SAM guide, 2025). The transform fails on any other, StageName and DefinitionBody included.
_GLOBALS_API_PROPERTIES = frozenset({
    "AccessLogSetting", "AlwaysDeploy", "Auth", "BinaryMediaTypes", "CacheClusterEnabled", "CacheClusterSize",
    "CanarySetting", "Cors", "DefinitionUri", "Domain", "EndpointConfiguration", "GatewayResponses",
    "MergeDefinitions", "MethodSettings", "MinimumCompressionSize", "Name", "OpenApiVersion", "PropagateTags",
    "TracingEnabled", "Variables",
})
# API Gateway's rule for stage names.
_STAGE_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
DEFAULT_STAGE = "$default"
SAMCONFIG_NAME = "samconfig.toml"
# The SAM CLI's configuration files. `sam deploy` reads samconfig.toml, and a
# YAML one only when there is no samconfig.toml.
SAMCONFIG_NAMES = (SAMCONFIG_NAME, "samconfig.yaml", "samconfig.yml")
# The config environment `sam deploy` reads without --config-env.
SAMCONFIG_ENVIRONMENT = "default"

# The sections CloudFormation defines (its "template sections" page), plus
# SAM's Globals.
_TOP_LEVEL_KEYS = frozenset(
    {"AWSTemplateFormatVersion", "Transform", "Description", "Metadata", "Parameters", "Rules", "Mappings",
     "Conditions", "Globals", "Resources", "Outputs"}
)
# The keys of a resource: Type, Properties and the resource attributes
# CloudFormation defines (its "resource attribute reference", 2025), which
# rejects any other. Description and Version are accepted too, because the
# AWS CDK writes them into its templates.
_RESOURCE_KEYS = frozenset(
    {"Type", "Properties", "Condition", "CreationPolicy", "DeletionPolicy", "DependsOn", "Metadata", "UpdatePolicy",
     "UpdateReplacePolicy", "Description", "Version"}
)
# The resource attributes of SAM's own, which the SAM transform removes before CloudFormation reads the template.
_SAM_RESOURCE_KEYS = frozenset({"Connectors", "IgnoreGlobals"})
# Warnings for the resource keys that would change what AWS deploys; the others change nothing in Squall.
_RESOURCE_KEY_WARNINGS = {
    "CreationPolicy": "not supported by Squall yet, ignored",
    "UpdatePolicy": "not supported by Squall yet, ignored",
    "Connectors": "ignored, because Squall checks no permissions",
    "IgnoreGlobals": "not supported by Squall, ignored: the Globals apply to this resource",
}
# The options CloudFormation defines for DeletionPolicy and UpdateReplacePolicy.
_POLICY_OPTIONS = {
    "DeletionPolicy": ("Delete", "Retain", "RetainExceptOnCreate", "Snapshot"),
    "UpdateReplacePolicy": ("Delete", "Retain", "Snapshot"),
}
_FUNCTION_KEYS = frozenset(
    {"Handler", "Runtime", "CodeUri", "MemorySize", "Timeout", "Environment", "ReservedConcurrentExecutions",
     "ProvisionedConcurrencyConfig", "EventInvokeConfig", "DeadLetterQueue", "Events", "Description", "PackageType",
     "Layers", "AutoPublishAlias", "LoggingConfig", "FunctionName", "DeploymentPreference", "RecursiveLoop",
     # Squall publishes a new version whenever the code or any setting changes,
     # which is what these two ask SAM for.
     "AutoPublishAliasAllProperties", "AutoPublishCodeSha256"}
)
_NO_PERMISSIONS = "ignored, because Squall checks no IAM permissions"
_NO_GRADUAL = "ignored, because Squall has no gradual deployments: the alias moves to the new version at once"
# Warnings for function properties, more specific than "not supported".
_FUNCTION_KEY_WARNINGS = {
    "Policies": _NO_PERMISSIONS,
    "Role": _NO_PERMISSIONS,
    "PermissionsBoundary": _NO_PERMISSIONS,
    "RolePath": _NO_PERMISSIONS,
    "Architectures": "ignored, because functions run on the server's own architecture",
    "Tracing": "ignored, because X-Ray tracing is not supported by Squall",
    "VpcConfig": "ignored, because Squall has no VPCs",
    "Tags": "ignored, because tags are not supported by Squall",
}
_DATA_TYPES = frozenset({QUEUE_TYPE, BUCKET_TYPE, TABLE_TYPE, SIMPLE_TABLE_TYPE, STREAM_TYPE})
_PARAMETER_TYPES_RULE = "String, Number, CommaDelimitedList, List<...> or AWS::SSM::Parameter::Value<...>"
# The properties CloudFormation defines for a parameter (its "Parameters section syntax" page).
# CloudFormation rejects a template with any other.
_PARAMETER_PROPERTIES = frozenset({
    "AllowedPattern", "AllowedValues", "ConstraintDescription", "Default", "Description", "MaxLength", "MaxValue",
    "MinLength", "MinValue", "NoEcho", "Type",
})
# A value of a Number parameter, which CloudFormation documents as "an integer or float".
# NOTE: CloudFormation gives no grammar. This accepts decimal notation with an optional
# exponent and rejects inf, nan, surrounding spaces and "_" digit separators.
_NUMBER_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_PYTHON_RUNTIME_RE = re.compile(r"^python3\.\d+$")
_RUNTIME_RULE = 'a Python 3 runtime "python3.N", such as "python3.12"'


# Reads one merged function property: its resolved value (None when absent) and its key path.
_PropertyLookup = Callable[[str], tuple[Any, KeyPath]]


@dataclass(frozen=True)
class _Property:
    """A function property after Globals are merged in, and where it was written."""

    value: Any
    key: KeyPath


class _TemplateProblems(ManifestProblems):
    """The mistakes of one template, where a value Squall cannot compute is one too."""

    caught = (ManifestError, Unresolvable)

    def as_manifest_error(self, error: Exception) -> ManifestError:
        if isinstance(error, Unresolvable):
            return self.source.error(error.key, error.reason)
        return super().as_manifest_error(error)


@dataclass
class _Template:
    """The state shared by every step of one template's translation."""

    source: ManifestSource
    evaluator: Evaluator
    catalog: ResourceCatalog
    warnings: Warnings
    problems: ManifestProblems
    globals: dict[str, Any] = field(default_factory=dict)
    # The StageName of each AWS::Serverless::Api, by logical id, for Api events that name it in RestApiId.
    rest_stages: dict[str, str] = field(default_factory=dict)
    # Globals.Api.BinaryMediaTypes, which apply to every REST API, SAM's own one included.
    globals_binary_media_types: tuple[str, ...] = ()
    # The BinaryMediaTypes of each AWS::Serverless::Api by logical id, with those of Globals.Api first.
    rest_binary_media_types: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The stage of each AWS::Serverless::HttpApi, by logical id (None: "$default"), for HttpApi events that name it in ApiId.
    http_stages: dict[str, str | None] = field(default_factory=dict)
    # Globals.Api.Cors and Globals.HttpApi.CorsConfiguration, which also apply to the APIs SAM creates.
    globals_rest_cors: CorsConfig | None = None
    globals_http_cors: CorsConfig | None = None
    # The same two settings as written, by property name ("Cors", "CorsConfiguration"),
    # when they are valid, to merge into an API's own setting as SAM does.
    globals_cors_values: dict[str, Any] = field(default_factory=dict)
    # The Cors of each AWS::Serverless::Api and the CorsConfiguration of each AWS::Serverless::HttpApi, by logical id.
    rest_cors: dict[str, CorsConfig | None] = field(default_factory=dict)
    http_cors: dict[str, CorsConfig | None] = field(default_factory=dict)


def parse_sam_template(
    document: Any,
    source: ManifestSource,
    parameters: Mapping[str, str] | None = None,
    stack_name: str | None = None,
    config_env: str = SAMCONFIG_ENVIRONMENT,
) -> ServiceSpec:
    """Translate a parsed SAM template into a ServiceSpec, raising ManifestError if it cannot be.

    `parameters` overrides the template's parameter values and `stack_name`
    names the service, as `sam deploy --parameter-overrides` and
    `--stack-name` do; both default to samconfig.toml, then to the template.
    `config_env` chooses the samconfig environment, as `--config-env` does.

    The sections every function depends on (Parameters, Resources, Globals)
    stop the translation at their first mistake. After them, one error lists
    every mistake of the layers, rules, functions and data resources.
    """
    try:
        return _translate(document, source, parameters, stack_name, config_env)
    except Unresolvable as problem:
        # Where a value may be left out, its reader turns this into a warning;
        # everywhere else Squall needs the value, so it is an error.
        raise source.error(problem.key, problem.reason) from None


def _translate(
    document: Any,
    source: ManifestSource,
    parameters: Mapping[str, str] | None,
    stack_name: str | None,
    config_env: str = SAMCONFIG_ENVIRONMENT,
) -> ServiceSpec:
    if document is None:
        raise source.error((), "the file is empty, expected an AWS SAM template with Resources")
    if not isinstance(document, dict):
        raise source.error((), expected("a mapping with Transform and Resources", document))
    warnings = Warnings()
    _check_top_level(source, document, warnings)
    config = read_samconfig(source, config_env)
    config_summary = config.summary()
    if config_summary is not None:
        warnings.add((config.file_name,), config_summary)

    stack = _stack_name(source, stack_name or config.stack_name)
    overrides = {**config.parameter_overrides, **(parameters or {})}
    from_config = {name for name in config.parameter_overrides if name not in (parameters or {})}
    template_parameters = _read_parameters(
        source, document.get("Parameters"), overrides, _OverrideOrigin.of(source, config, from_config)
    )
    resources = _read_resource_entries(source, document.get("Resources"), warnings)
    catalog = ResourceCatalog(source, stack, resources, warnings)
    evaluator = Evaluator(
        source,
        stack,
        template_parameters,
        _mapping_section(source, document, "Conditions"),
        _mapping_section(source, document, "Mappings"),
        catalog.lookup,
        resources,
    )
    catalog.evaluator = evaluator
    problems = _TemplateProblems(source, document)
    template = _Template(
        source, evaluator, catalog, warnings, problems, _read_globals(source, document.get("Globals"), warnings)
    )
    catalog.function_globals = template.globals
    template.globals_binary_media_types = _read_globals_api(template, document.get("Globals"))
    _read_globals_cors(template, document.get("Globals"))

    _check_resource_attributes(template, document["Resources"])
    created = [resource for resource in resources.values() if catalog.is_created(resource)]
    function_ids = {resource.logical_id for resource in created if resource.type == FUNCTION_TYPE}
    scheduled: dict[str, list[Trigger]] = {}
    layers: dict[str, LayerSpec] = {}
    layers_read = True
    for resource in created:
        with problems.collect() as attempt:
            if resource.type == RULE_TYPE:
                for function, trigger in rule_schedules(evaluator, warnings, resource, function_ids):
                    scheduled.setdefault(function, []).append(trigger)
            elif resource.type == LAYER_TYPE:
                layers[resource.logical_id] = _read_layer(template, resource)
            elif resource.type == REST_API_TYPE:
                # Its other settings (authorizers, domains) are listed as not supported.
                template.catalog.check_properties(resource, {"StageName", "BinaryMediaTypes", "Cors"})
                stage = _read_stage_name(template, resource)
                binary_media_types = _read_binary_media_types(
                    template, (*resource.properties_key, "BinaryMediaTypes"), resource.properties.get("BinaryMediaTypes")
                )
                template.rest_stages[resource.logical_id] = stage
                template.rest_binary_media_types[resource.logical_id] = (
                    template.globals_binary_media_types + binary_media_types
                )
                template.rest_cors[resource.logical_id] = _read_api_cors(template, resource, "Cors")
            elif resource.type == HTTP_API_TYPE:
                _warn_other_resource(template, resource)
                template.http_stages[resource.logical_id] = _read_http_stage_name(template, resource)
                template.http_cors[resource.logical_id] = _read_api_cors(template, resource, "CorsConfiguration")
            elif resource.type not in _DATA_TYPES and resource.type != FUNCTION_TYPE:
                _warn_other_resource(template, resource)
        if attempt.failed and resource.type == LAYER_TYPE:
            layers_read = False
    if not function_ids:
        problems.add(source.error(("Resources",), f"no resource of Type {FUNCTION_TYPE}, expected at least one function"))

    functions: dict[str, FunctionSpec] = {}
    routes: list[Route] = []
    for resource in created:
        if resource.type != FUNCTION_TYPE:
            continue
        # A function's Layers are checked against the declared layers, so not when one of those failed.
        function, function_routes = _read_function(
            template, resource, scheduled.get(resource.logical_id, []), layers if layers_read else None
        )
        if function is not None:
            functions[function.name] = function
        routes.extend(function_routes)
    check_routes(problems, routes)
    for error in _unresolved_references(template, document, resources):
        problems.add(error)
    data_resources = Resources()
    with problems.collect():
        data_resources = catalog.build_resources()  # before the warnings are collected, since it adds some
    problems.raise_if_any()

    spec = ServiceSpec(
        service=stack,
        root=source.root,
        manifest_path=source.path,
        functions=functions,
        warnings=tuple(warnings.by_key.values()),
        resources=data_resources,
        layers=tuple(layers.values()),
    )
    for warning in spec.warnings:
        logger.debug("%s: %s", source.display, warning)
    return spec


def _unresolved_references(
    template: _Template, document: dict[str, Any], resources: dict[str, TemplateResource]
) -> list[ManifestError]:
    """Return an error for each reference to a name the template does not declare, in every section that may contain one."""
    evaluator = template.evaluator
    errors: list[ManifestError] = []
    errors.extend(evaluator.check_conditions())
    for section in ("Globals", "Outputs"):
        if isinstance(document.get(section), dict):
            errors.extend(evaluator.check_references(document[section], (section,)))
    outputs = document.get("Outputs")
    for name, output in outputs.items() if isinstance(outputs, dict) else ():
        if isinstance(output, dict) and "Condition" in output:
            error = evaluator.unknown_condition(output["Condition"], ("Outputs", str(name), "Condition"))
            if error is not None:
                errors.append(error)
    for resource in resources.values():
        errors.extend(evaluator.check_references(resource.properties, resource.properties_key))
    return errors


# samconfig.toml / samconfig.yaml -------------------------------------------------


@dataclass(frozen=True)
class SamConfig:
    """The deploy settings of the SAM CLI's configuration file that Squall uses."""

    stack_name: str | None = None
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    # The region `sam deploy` would deploy to. Functions run in the server's region, so it is only reported.
    region: str | None = None
    # The file read ("samconfig.toml"), "" when the template's folder has none.
    file_name: str = ""
    # The table each setting was read from, such as "default.deploy.parameters".
    tables: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str | None:
        """Describe which settings were read from which table, without the parameter values; None if none were.

        A region other than the server's is named, because Squall does not use it.
        """
        parts = []
        for name, table in self.tables.items():
            if name == "parameter_overrides":
                names = ", ".join(self.parameter_overrides) or "none"
                parts.append(f"parameter_overrides ({names}) from {table}")
            else:
                parts.append(f"{name} from {table}")
        if not parts:
            return None
        summary = "read " + " and ".join(parts)
        running = server_region()
        if self.region is not None and self.region != running:
            summary += (
                f". Squall ignores the region {describe(self.region)}, because functions run in the server's region "
                f"{running} (AWS_REGION and the events' awsRegion) and AWS::Region resolves to {running}"
            )
            if is_region_name(self.region):
                summary += f". To run them in {self.region}, start the server with `squall up --region {self.region}`"
        return summary


def read_samconfig(source: ManifestSource, config_env: str = SAMCONFIG_ENVIRONMENT) -> SamConfig:
    """Read stack_name, parameter_overrides and region of one environment from the SAM CLI's configuration file.

    The file sits beside the template: samconfig.toml, else samconfig.yaml
    or samconfig.yml, as `sam deploy` looks for them. The deploy command's
    table wins over the global one, as in the SAM CLI. An environment other
    than "default" that the file lacks is an error, so that a deploy meant
    for it does not silently take the template's defaults.
    """
    path = next((source.root / name for name in SAMCONFIG_NAMES if (source.root / name).is_file()), None)
    if path is None:
        if config_env != SAMCONFIG_ENVIRONMENT:
            raise source.error(
                (), f"config environment {describe(config_env)} requested, but there is no {SAMCONFIG_NAME} beside it"
            )
        return SamConfig()
    config_source = ManifestSource(display=str(Path(source.display).parent / path.name), path=path, root=source.root)
    try:
        text = path.read_text(encoding="utf-8")
        document = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise config_source.error((), f"cannot be read: {error}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise config_source.error((), expected("a mapping of config environments such as default", document))

    # Each setting with the key path of the table it came from.
    settings: dict[str, tuple[Any, KeyPath]] = {}
    environment = document.get(config_env)
    if config_env != SAMCONFIG_ENVIRONMENT and not isinstance(environment, dict):
        # The top-level "version" is the file format's, not an environment.
        valid = ", ".join(str(name) for name in document if name != "version") or "none"
        raise config_source.error((), f"no config environment {describe(config_env)}, expected one of: {valid}")
    for command in ("global", "deploy"):
        section = environment.get(command) if isinstance(environment, dict) else None
        table = section.get("parameters") if isinstance(section, dict) else None
        if not isinstance(table, dict):
            continue
        for name in ("stack_name", "parameter_overrides", "region"):
            if name in table:
                settings[name] = (table[name], (config_env, command, "parameters", name))

    stack_name, stack_key = settings.get("stack_name", (None, ()))
    if stack_name is not None and not isinstance(stack_name, str):
        raise config_source.error(stack_key, expected("a stack name", stack_name))
    region, region_key = settings.get("region", (None, ()))
    if region is not None and not isinstance(region, str):
        raise config_source.error(region_key, expected(f"a region name such as {DEFAULT_REGION}", region))
    overrides, overrides_key = settings.get("parameter_overrides", (None, ()))
    tables = {name: ".".join(str(part) for part in key[:-1]) for name, (_, key) in settings.items()}
    return SamConfig(
        stack_name,
        _parameter_overrides(config_source, overrides_key, overrides),
        region=region,
        file_name=path.name,
        tables=tables,
    )


def _parameter_overrides(source: ManifestSource, key: KeyPath, value: Any) -> dict[str, str]:
    """Parse "Key=Value Other='two words'" or ["Key=Value", ...], as the SAM CLI accepts them."""
    if value is None:
        return {}
    if not isinstance(value, str) and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        raise source.error(key, expected('"Key=Value Key2=Value2" or a list of "Key=Value"', value))
    try:
        return parse_parameter_overrides(value)
    except ValueError as error:
        raise source.error(key, str(error)) from None


# Template sections -------------------------------------------------------------


def _check_top_level(source: ManifestSource, document: dict[Any, Any], warnings: Warnings) -> None:
    for name in document:
        if not isinstance(name, str):
            raise source.error((), f"key {describe(name)} is not a string, expected a section name")
    for name in document:
        if name not in _TOP_LEVEL_KEYS:
            # CloudFormation rejects a template with a section it does not define.
            meant = closest_key(name, _TOP_LEVEL_KEYS)
            hint = f' (did you mean "{meant}"?)' if meant else ""
            raise source.error(
                (name,), f"unknown template section{hint}, expected one of: {', '.join(sorted(_TOP_LEVEL_KEYS))}"
            )
        if name == "Outputs":
            warnings.add(("Outputs",), "stack outputs are not shown by Squall, ignored")
        elif name == "Rules":
            warnings.add(("Rules",), "parameter rules are not checked by Squall, ignored")

    transform = document.get("Transform")
    transforms = transform if isinstance(transform, list) else [transform]
    if SAM_TRANSFORM not in transforms:
        serverless = _serverless_resource(document.get("Resources"))
        if serverless is not None:
            # Only the SAM transform turns AWS::Serverless:: types into resources CloudFormation defines.
            found = "missing" if transform is None else f"got {describe(transform)}"
            raise source.error(
                ("Transform",),
                f"{found}, expected {SAM_TRANSFORM}: CloudFormation rejects {serverless} without the SAM transform",
            )
    for other in transforms:
        if other not in (None, SAM_TRANSFORM):
            warnings.add(("Transform",), f"the transform {describe(other)} is not run by Squall, ignored")


def _serverless_resource(resources: Any) -> str | None:
    """Return the first AWS::Serverless:: type of the Resources section, or None when it has none."""
    if not isinstance(resources, dict):
        return None
    for entry in resources.values():
        kind = entry.get("Type") if isinstance(entry, dict) else None
        if isinstance(kind, str) and kind.startswith("AWS::Serverless::"):
            return kind
    return None


def _stack_name(source: ManifestSource, given: str | None) -> str:
    if given is not None:
        if not SERVICE_NAME_RE.match(given):
            raise source.error((), expected(f"a stack name of {SERVICE_NAME_RULE}", given))
        return given
    folder = source.root.name
    if not SERVICE_NAME_RE.match(folder):
        raise source.error(
            (),
            f"the folder name {describe(folder)} cannot name the stack, expected {SERVICE_NAME_RULE}; "
            f"rename the folder or set stack_name under [default.deploy.parameters] in {SAMCONFIG_NAME}",
        )
    return folder


def _mapping_section(source: ManifestSource, document: dict[str, Any], name: str) -> dict[str, Any]:
    value = document.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise source.error((name,), expected(f"a mapping of {name.lower()}", value))
    return value


@dataclass(frozen=True)
class _OverrideOrigin:
    """The samconfig file and table of parameter_overrides, named in the error for a bad value read there."""

    source: ManifestSource
    key: KeyPath
    names: frozenset[str]

    @classmethod
    def of(cls, template: ManifestSource, config: SamConfig, names: set[str]) -> _OverrideOrigin | None:
        table = config.tables.get("parameter_overrides")
        if not names or table is None:
            return None
        path = template.root / config.file_name
        display = str(Path(template.display).parent / config.file_name)
        source = ManifestSource(display=display, path=path, root=template.root)
        return cls(source, (*table.split("."), "parameter_overrides"), frozenset(names))

    def error(self, name: str, detail: str, template: ManifestSource) -> ManifestError:
        return self.source.error(self.key, f"{name}: {detail} (see Parameters.{name} in {template.display})")


def _read_parameters(
    source: ManifestSource, section: Any, overrides: Mapping[str, str], origin: _OverrideOrigin | None = None
) -> dict[str, Parameter]:
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise source.error(("Parameters",), expected("a mapping of parameter names to {Type, Default}", section))
    unknown = sorted(set(overrides) - set(section))
    if unknown:
        valid = ", ".join(section) or "none are declared"
        meant = closest_key(unknown[0], [str(name) for name in section])
        hint = f' (did you mean "{meant}"?)' if meant else ""
        message = f"no parameter named {describe(unknown[0])}{hint}, expected one of: {valid}"
        if origin is not None and unknown[0] in origin.names:
            raise origin.source.error(origin.key, f"{message} (the Parameters of {source.display})")
        raise source.error(("Parameters",), f"{message}; the name was given with --parameter-overrides")

    parameters: dict[str, Parameter] = {}
    for name, declaration in section.items():
        key: KeyPath = ("Parameters", str(name))
        if not isinstance(declaration, dict):
            raise source.error(key, expected("a mapping with Type and optionally Default", declaration))
        check_defined_keys(source, key, declaration, _PARAMETER_PROPERTIES, "a parameter")
        kind = declaration.get("Type")
        if not isinstance(kind, str) or not (
            kind in ("String", "Number", "CommaDelimitedList") or kind.startswith(("List<", "AWS::"))
        ):
            raise source.error((*key, "Type"), expected(_PARAMETER_TYPES_RULE, kind))

        if name in overrides:
            text = overrides[name]
        elif "Default" in declaration:
            default = declaration["Default"]
            text = ",".join(map(str, default)) if isinstance(default, list) else environment_value(default)
        else:
            raise source.error(
                key, "has no Default and no value was given; add a Default, set it in parameter_overrides of "
                f"{SAMCONFIG_NAME}, or give it with --parameter-overrides {name}=VALUE"
            )
        bounds = _parameter_bounds(source, key, declaration, kind)
        try:
            value = _parameter_value(source, key, declaration, kind, text, bounds)
        except ManifestError as error:
            if origin is not None and name in origin.names:
                raise origin.error(name, error.detail, source) from None
            if name in overrides:
                raise source.error(key, f"{error.detail}; the value was given with --parameter-overrides") from None
            raise
        parameters[name] = Parameter(name, kind, value)
    return parameters


class _HiddenValue:
    """The stand-in for a NoEcho parameter's value in messages, which must not show it."""

    def __str__(self) -> str:
        return "a value hidden by NoEcho"


def _parameter_value(
    source: ManifestSource, key: KeyPath, declaration: dict[str, Any], kind: str, text: str, bounds: dict[str, Any]
) -> str | list[str]:
    """Check a parameter's value against its Type and constraints, and return it, as a list for the list types.

    `bounds` are the parameter's checked MinValue, MaxValue, MinLength and
    MaxLength that apply to its Type. A CommaDelimitedList's AllowedPattern
    must match each item, as CloudFormation documents it.
    """
    is_list = kind == "CommaDelimitedList" or kind.startswith("List<")
    items = [item.strip() for item in text.split(",")] if text else []
    hidden = str(declaration.get("NoEcho")).lower() == "true"

    def shown(value: str) -> Any:
        return _HiddenValue() if hidden else value

    def violated(rule: str, value: str, length: bool = False) -> ManifestError:
        message = expected(rule, shown(value))
        if length and not hidden:
            message += f" of {_characters(len(value))}"
        description = declaration.get("ConstraintDescription")
        if isinstance(description, str) and description:
            message += f" (ConstraintDescription: {description})"
        return source.error(key, message)

    if kind == "Number" and not _NUMBER_RE.fullmatch(text):
        raise source.error(key, expected("a number", shown(text)))
    if kind == "List<Number>":
        for item in items:
            if not _NUMBER_RE.fullmatch(item):
                raise source.error(key, expected("a comma-separated list of numbers", shown(text)))

    allowed = declaration.get("AllowedValues")
    if isinstance(allowed, list) and text not in [environment_value(item) for item in allowed]:
        raise violated("one of the AllowedValues: " + ", ".join(map(str, allowed)), text)
    pattern = declaration.get("AllowedPattern")
    if isinstance(pattern, str):
        for value in items if kind == "CommaDelimitedList" else [text]:
            if re.fullmatch(pattern, value) is None:
                item_rule = "items" if kind == "CommaDelimitedList" else "a value"
                raise violated(f"{item_rule} matching the AllowedPattern {pattern}", value)

    if "MinValue" in bounds and Decimal(text) < bounds["MinValue"]:
        raise violated(f"a number of at least {declaration['MinValue']} (MinValue)", text)
    if "MaxValue" in bounds and Decimal(text) > bounds["MaxValue"]:
        raise violated(f"a number of at most {declaration['MaxValue']} (MaxValue)", text)
    if "MinLength" in bounds and len(text) < bounds["MinLength"]:
        raise violated(f"at least {_characters(bounds['MinLength'])} (MinLength)", text, length=True)
    if "MaxLength" in bounds and len(text) > bounds["MaxLength"]:
        raise violated(f"at most {_characters(bounds['MaxLength'])} (MaxLength)", text, length=True)
    return items if is_list else text


def _parameter_bounds(source: ManifestSource, key: KeyPath, declaration: dict[str, Any], kind: str) -> dict[str, Any]:
    """Check and return the bounds that apply to the parameter's Type, by name.

    CloudFormation documents MinValue and MaxValue for Number parameters and
    MinLength and MaxLength for String ones.
    """
    # NOTE: Squall ignores a bound on another Type, such as MinValue on a List<Number>,
    # because CloudFormation does not document what it does with one.
    if kind == "Number":
        names, convert, rule = ("MinValue", "MaxValue"), _decimal, "a number"
    elif kind == "String":
        names, convert, rule = ("MinLength", "MaxLength"), _length, "a whole number of characters, 0 or more"
    else:
        return {}
    bounds: dict[str, Any] = {}
    for name in names:
        if name not in declaration:
            continue
        bound = convert(declaration[name])
        if bound is None:
            raise source.error((*key, name), expected(rule, declaration[name]))
        bounds[name] = bound
    return bounds


def _decimal(value: Any) -> Decimal | None:
    """Return a MinValue or MaxValue as a Decimal, which YAML gives as a number or a string; None if it is neither."""
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if isinstance(value, str) and _NUMBER_RE.fullmatch(value):
        return Decimal(value)
    return None


def _characters(count: int) -> str:
    return "1 character" if count == 1 else f"{count} characters"


def _length(value: Any) -> int | None:
    number = whole_number(value)
    return number if number is not None and number >= 0 else None


def _read_resource_entries(source: ManifestSource, section: Any, warnings: Warnings) -> dict[str, TemplateResource]:
    if not isinstance(section, dict) or not section:
        raise source.error(("Resources",), expected("a mapping of logical ids to resources, with at least one", section))
    resources: dict[str, TemplateResource] = {}
    for logical_id, entry in section.items():
        key: KeyPath = ("Resources", str(logical_id))
        if not isinstance(logical_id, str) or not logical_id.isalnum():
            raise source.error(("Resources",), expected("logical ids of letters and digits", logical_id))
        if not isinstance(entry, dict) or not isinstance(entry.get("Type"), str):
            raise source.error(key, expected('a mapping with "Type" and "Properties"', entry))
        _check_resource_keys(source, key, entry, warnings)
        properties = entry.get("Properties") or {}
        if not isinstance(properties, dict):
            raise source.error((*key, "Properties"), expected("a mapping of properties", properties))
        condition = entry.get("Condition")
        if condition is not None and not isinstance(condition, str):
            raise source.error((*key, "Condition"), expected("the name of a condition", condition))
        resources[logical_id] = TemplateResource(logical_id, entry["Type"], properties, condition)
    return resources


def _check_resource_keys(source: ManifestSource, key: KeyPath, entry: dict[Any, Any], warnings: Warnings) -> None:
    """Reject a key of a resource that is no resource attribute, as CloudFormation does, and list the ignored ones."""
    defined = _RESOURCE_KEYS | _SAM_RESOURCE_KEYS
    for name in entry:
        if name not in defined:
            meant = closest_key(str(name), defined)
            hint = f' (did you mean "{meant}"?)' if meant else ""
            raise source.error(
                (*key, str(name)), f"unknown resource attribute{hint}, expected one of: {', '.join(sorted(defined))}"
            )
        if name in _RESOURCE_KEY_WARNINGS:
            warnings.add((*key, name), _RESOURCE_KEY_WARNINGS[name])


def _check_resource_attributes(template: _Template, section: dict[str, Any]) -> None:
    """Check the DependsOn, DeletionPolicy and UpdateReplacePolicy of every resource, which CloudFormation validates.

    Squall uses none of them, but CloudFormation rejects the whole template
    for a dependency on no resource or for a policy it does not define.
    """
    for logical_id, entry in section.items():
        key: KeyPath = ("Resources", logical_id)
        if "DependsOn" in entry:
            with template.problems.collect():
                _check_depends_on(template, (*key, "DependsOn"), entry["DependsOn"])
        for name, options in _POLICY_OPTIONS.items():
            if name in entry:
                with template.problems.collect():
                    _check_policy(template, (*key, name), entry[name], options)


def _check_depends_on(template: _Template, key: KeyPath, value: Any) -> None:
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(name, str) for name in names):
        raise template.source.error(
            key, expected("a logical id, or a list of logical ids, of this template's Resources", value)
        )

    declared = list(template.catalog.resources)
    for index, name in enumerate(names):
        if template.catalog.declares(name):
            continue
        meant = closest_key(name, declared)
        hint = f' (did you mean "{meant}"?)' if meant else ""
        # CloudFormation reports it as an unresolved resource dependency.
        raise template.source.error(
            (*key, index) if isinstance(value, list) else key,
            f"{describe(name)} is not a resource of this template{hint}, expected the logical id of a resource "
            "under Resources",
        )


def _check_policy(template: _Template, key: KeyPath, value: Any, options: tuple[str, ...]) -> None:
    # The AWS::LanguageExtensions transform allows an intrinsic function here, which must resolve to an option.
    if is_function(value):
        try:
            value = template.evaluator.resolve(value, key)
        except Unresolvable:
            return
    if value in options:
        return
    meant = closest_key(value, options) if isinstance(value, str) else None
    hint = f' (did you mean "{meant}"?)' if meant else ""
    raise template.source.error(key, expected(", ".join(options[:-1]) + f" or {options[-1]}", value) + hint)


def _read_globals(source: ManifestSource, section: Any, warnings: Warnings) -> dict[str, Any]:
    """Return Globals.Function; the other Globals sections are reported."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise source.error(("Globals",), expected("a mapping with Function and other resource types", section))
    for name, value in section.items():
        if name not in _GLOBALS_SECTIONS:
            meant = closest_key(str(name), _GLOBALS_SECTIONS)
            hint = f' (did you mean "{meant}"?)' if meant else ""
            raise source.error(
                ("Globals", str(name)), f"unknown Globals section{hint}, expected one of: {', '.join(_GLOBALS_SECTIONS)}"
            )
        if name == "HttpApi" and isinstance(value, dict):
            for setting in value:
                if setting != "CorsConfiguration":
                    warnings.unsupported(("Globals", "HttpApi", str(setting)))
        elif name not in ("Function", "Api"):
            warnings.unsupported(("Globals", str(name)))
        elif name == "Function" and not isinstance(value, dict):
            raise source.error(("Globals", "Function"), expected("a mapping of function properties", value))
    function = section.get("Function") or {}
    for name in function:
        if name not in SAM_FUNCTION_PROPERTIES:
            raise source.error(("Globals", "Function", str(name)), _unknown_property(str(name)))
    _check_environment_keys(source, ("Globals", "Function", "Environment"), function.get("Environment"))
    return function


def _read_globals_api(template: _Template, section: Any) -> tuple[str, ...]:
    """Return Globals.Api.BinaryMediaTypes, rejecting the keys SAM rejects and listing the others as not supported."""
    api = section.get("Api") if isinstance(section, dict) else None
    if api is None:
        return ()
    key: KeyPath = ("Globals", "Api")
    if not isinstance(api, dict):
        raise template.source.error(key, expected("a mapping of AWS::Serverless::Api properties", api))
    for name in api:
        if name not in _GLOBALS_API_PROPERTIES:
            raise _globals_api_error(template.source, key, name)
        if name not in ("BinaryMediaTypes", "Cors"):
            template.warnings.unsupported((*key, str(name)))
    return _read_binary_media_types(template, (*key, "BinaryMediaTypes"), api.get("BinaryMediaTypes"))


def _read_globals_cors(template: _Template, section: Any) -> None:
    """Read Globals.Api.Cors and Globals.HttpApi.CorsConfiguration into the template."""
    if not isinstance(section, dict):
        return
    rest = section.get("Api")
    if isinstance(rest, dict) and "Cors" in rest:
        key: KeyPath = ("Globals", "Api", "Cors")
        with template.problems.collect():
            template.globals_rest_cors = read_rest_cors(template.source, key, _resolved(template, key, rest["Cors"]))
            template.globals_cors_values["Cors"] = rest["Cors"]
    http = section.get("HttpApi")
    if isinstance(http, dict) and "CorsConfiguration" in http:
        key = ("Globals", "HttpApi", "CorsConfiguration")
        with template.problems.collect():
            template.globals_http_cors = read_http_api_cors(
                template.source, key, _resolved(template, key, http["CorsConfiguration"])
            )
            template.globals_cors_values["CorsConfiguration"] = http["CorsConfiguration"]


def _read_api_cors(template: _Template, resource: TemplateResource, name: str) -> CorsConfig | None:
    """Return an API resource's Cors or CorsConfiguration merged with the one of its Globals section.

    The template's values are merged before their intrinsic functions are
    resolved, as SAM merges them (see _merge_with_globals). A Globals value
    that failed its own check is left out, because its error is already reported.
    """
    rest = name == "Cors"
    if name not in resource.properties:
        return template.globals_rest_cors if rest else template.globals_http_cors
    key = (*resource.properties_key, name)
    value = resource.properties[name]
    if name in template.globals_cors_values:
        value = _merge_with_globals(template.globals_cors_values[name], value)
    value = _resolved(template, key, value)
    return read_rest_cors(template.source, key, value) if rest else read_http_api_cors(template.source, key, value)


def _merge_with_globals(global_value: Any, local_value: Any) -> Any:
    """Merge a Globals value into a resource's own value, as SAM's Globals plugin does.

    Two mappings merge key by key, recursively, and two lists join with the
    Globals entries first. Otherwise the resource's value wins whole, also
    for values of different kinds and for an intrinsic function, which SAM
    treats as a plain value.
    """
    if is_function(global_value) or is_function(local_value):
        return local_value
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for name, value in local_value.items():
            merged[name] = _merge_with_globals(merged[name], value) if name in merged else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def _resolved(template: _Template, key: KeyPath, value: Any) -> Any:
    resolved = template.evaluator.resolve(value, key)
    return None if resolved is NO_VALUE else resolved


def _globals_api_error(source: ManifestSource, key: KeyPath, name: Any) -> ManifestError:
    """Build the error for a key that SAM rejects in Globals.Api: an API property it does not merge, or none."""
    if name not in RESOURCE_PROPERTIES[REST_API_TYPE]:
        return unknown_key_error(source, key, name, _GLOBALS_API_PROPERTIES, "Globals.Api")
    message = (
        f"{name} cannot be set in Globals.Api, because SAM does not merge it into the APIs, expected it on each "
        f"{REST_API_TYPE}"
    )
    if name == "StageName":
        message += ". The API that SAM creates for Api events without a RestApiId always has the stage Prod"
    return source.error((*key, str(name)), message)


def _read_binary_media_types(template: _Template, key: KeyPath, value: Any) -> tuple[str, ...]:
    """Resolve and check a REST API's BinaryMediaTypes, where SAM documents "~1" in place of "/" ("image~1png")."""
    if value is None:
        return ()
    resolved = template.evaluator.resolve(value, key)
    if resolved is NO_VALUE:
        return ()
    return read_binary_media_types(template.source, key, resolved, slash_escaped=True)


def _check_environment_keys(source: ManifestSource, key: KeyPath, environment: Any) -> None:
    """Reject a key of a function's Environment other than Variables, which CloudFormation rejects."""
    if isinstance(environment, dict) and not is_function(environment):
        check_defined_keys(source, key, environment, _ENVIRONMENT_KEYS, "Environment")


def _unknown_property(name: str) -> str:
    """Describe a property that AWS::Serverless::Function does not have, which SAM rejects."""
    meant = closest_key(name, SAM_FUNCTION_PROPERTIES)
    hint = f' (did you mean "{meant}"?)' if meant else ""
    return f"unknown property of AWS::Serverless::Function{hint}, expected a property SAM defines"


def _read_stage_name(template: _Template, resource: TemplateResource) -> str:
    """Return the StageName of an AWS::Serverless::Api, under which its routes are served."""
    key = (*resource.key, "Properties", "StageName")
    if "StageName" not in resource.properties:
        raise template.source.error(key, "missing, expected the API's stage name, such as Prod")
    stage = template.evaluator.resolve(resource.properties["StageName"], key)
    if not isinstance(stage, str) or not _STAGE_NAME_RE.match(stage):
        raise template.source.error(key, expected("a stage name of letters, digits, - and _", stage))
    return stage


def _read_http_stage_name(template: _Template, resource: TemplateResource) -> str | None:
    """Return the StageName of an AWS::Serverless::HttpApi, or None for its "$default" stage, served at the root."""
    if "StageName" not in resource.properties:
        return None
    key = (*resource.key, "Properties", "StageName")
    stage = template.evaluator.resolve(resource.properties["StageName"], key)
    if stage == DEFAULT_STAGE:
        return None
    if not isinstance(stage, str) or not _STAGE_NAME_RE.match(stage):
        raise template.source.error(key, expected(f"{DEFAULT_STAGE} or a stage name of letters, digits, - and _", stage))
    return stage


def _warn_other_resource(template: _Template, resource: TemplateResource) -> None:
    if resource.type in PERMISSION_TYPES:
        template.warnings.add(resource.key, f"{resource.type} is not needed: Squall checks no permissions, ignored")
    elif resource.type == HTTP_API_TYPE:
        check_defined_keys(
            template.source, resource.properties_key, resource.properties, RESOURCE_PROPERTIES[HTTP_API_TYPE], HTTP_API_TYPE
        )
        ignored = sorted(name for name in resource.properties if name not in ("StageName", "CorsConfiguration"))
        if ignored:
            template.warnings.add(
                resource.key,
                f"{resource.type} settings ({', '.join(ignored)}) are not supported by Squall yet, ignored; "
                "the routes of the functions' HttpApi events are served",
            )
    elif (meant := misspelt_type(resource.type)) is not None:
        template.warnings.add(
            resource.key,
            f"unknown resource type {resource.type}, did you mean {meant}? ignored (CloudFormation rejects a type "
            "it does not define)",
        )
    else:
        template.warnings.add(resource.key, f"resources of type {resource.type} are not supported by Squall yet, ignored")


# Functions ------------------------------------------------------------------------


def _merged_properties(template: _Template, resource: TemplateResource) -> dict[str, _Property]:
    """Merge Globals.Function into a function's properties, as SAM does.

    The function's value wins for a plain value, maps are merged key by key
    at every depth, and lists are joined with the global entries first. A
    value that is an intrinsic function is not merged: the function's own
    value wins.
    """
    merged = {name: _Property(value, ("Globals", "Function", name)) for name, value in template.globals.items()}
    for name, value in resource.properties.items():
        key = (*resource.properties_key, name)
        earlier = merged.get(name)
        merged[name] = _Property(value if earlier is None else _merge_with_globals(earlier.value, value), key)
    return merged


def _read_function(
    template: _Template, resource: TemplateResource, scheduled: list[Trigger], layers: dict[str, LayerSpec] | None
) -> tuple[FunctionSpec | None, list[Route]]:
    """Check one function and return its spec (None after a mistake) with its valid routes.

    `layers` is None when a declared layer failed its check, which skips the
    check of the function's Layers.
    """
    source, problems = template.source, template.problems
    name = resource.logical_id
    if not FUNCTION_NAME_RE.match(name):
        problems.add(
            source.error(resource.key, expected(f"a logical id that is a function name of {FUNCTION_NAME_RULE}", name))
        )
        return None, []
    problems_before = len(problems)

    properties = _merged_properties(template, resource)
    for property_name, found in properties.items():
        if property_name in _FUNCTION_KEY_WARNINGS:
            template.warnings.add(found.key, _FUNCTION_KEY_WARNINGS[property_name])
        elif property_name in SAM_FUNCTION_PROPERTIES:
            if property_name not in _FUNCTION_KEYS:
                template.warnings.unsupported(found.key)
        elif found.key[0] != "Globals":  # _read_globals reports those once
            problems.add(source.error(found.key, _unknown_property(property_name)))

    def raw(property_name: str) -> tuple[Any, KeyPath]:
        found = properties.get(property_name)
        if found is None:
            return None, (*resource.properties_key, property_name)
        return found.value, found.key

    def read(property_name: str) -> tuple[Any, KeyPath]:
        value, key = raw(property_name)
        if value is None:
            return None, key
        return PropertyReader(template.evaluator, {property_name: value}, key[:-1]).value(property_name), key

    with problems.collect():
        _check_environment_keys(source, (*resource.properties_key, "Environment"), resource.properties.get("Environment"))
    with problems.collect():
        _check_package_type(template, properties, read)
    # The runtime comes first: the handler of a Node.js or Java function names
    # no .py file, and its runtime is the one mistake to report.
    runtime = ""
    python_runtime = True
    with problems.collect():
        runtime_value, runtime_key = read("Runtime")
        python_runtime = not names_other_language(runtime_value)
        runtime = _check_runtime(template, runtime_key, runtime_value)
    handler, code_dir = "", ""
    with problems.collect():
        if python_runtime:
            handler, code_dir = _read_handler(template, read)
        else:
            handler = _require_handler(template, read)

    memory_mb = 128
    with problems.collect():
        memory, memory_key = read("MemorySize")
        if memory is not None:
            memory_mb = _integer(template, memory_key, memory, MIN_MEMORY_MB, MAX_MEMORY_MB, "whole megabytes")
    timeout_s = 3
    with problems.collect():
        timeout, timeout_key = read("Timeout")
        if timeout is not None:
            timeout_s = _integer(template, timeout_key, timeout, 1, MAX_TIMEOUT_S, "whole seconds")
    reserved: int | None = None
    with problems.collect() as reserved_read:
        reserved_value, reserved_key = read("ReservedConcurrentExecutions")
        if reserved_value is not None:
            reserved = _integer(template, reserved_key, reserved_value, 0, None, "a whole number of instances")
    has_alias = _has_auto_publish_alias(read)
    provisioned = 0
    with problems.collect():
        # After a mistake in the reserved count, the provisioned one is checked alone.
        provisioned = _read_provisioned(template, read, None if reserved_read.failed else reserved, name, has_alias)
    with problems.collect():
        _check_deployment_preference(template, read, name, has_alias)

    events = EventReader(
        template.evaluator,
        template.warnings,
        name,
        template.rest_stages,
        template.http_stages,
        template.rest_binary_media_types,
        template.globals_binary_media_types,
        rest_cors=template.rest_cors,
        implicit_rest_cors=template.globals_rest_cors,
        http_cors=template.http_cors,
        implicit_http_cors=template.globals_http_cors,
    )
    found_events = events.read(*raw("Events"), problems)
    async_config: AsyncConfig | None = None
    with problems.collect():
        invoke_config, invoke_key = raw("EventInvokeConfig")
        async_config = events.async_config(invoke_config, invoke_key)
        async_config = _with_failure_destinations(template, events, read, async_config, found_events.stream_failures)

    alias = None
    with problems.collect():
        alias = _read_auto_publish_alias(template, read)
    routes = found_events.routes
    triggers = tuple(found_events.triggers) + tuple(scheduled)
    if alias is not None:
        # SAM points every event source of such a function at the alias.
        routes = [dataclasses.replace(route, event=dataclasses.replace(route.event, qualifier=alias)) for route in routes]
        triggers = tuple(dataclasses.replace(trigger, qualifier=alias) for trigger in triggers)

    environment: dict[str, str] = {}
    with problems.collect():
        environment = _read_environment(template, properties.get("Environment"))
    with problems.collect():
        environment = environment | _read_logging_config(template, properties.get("LoggingConfig"))
    function_layers: tuple[str, ...] = ()
    if layers is not None:
        with problems.collect():
            function_layers = _read_function_layers(template, *raw("Layers"), layers)
    aws_name = None
    with problems.collect():
        # Squall names the function by its logical id; callers of the Invoke API may use this name too.
        aws_name, aws_name_key = read("FunctionName")
        if aws_name is not None and (not isinstance(aws_name, str) or not FUNCTION_NAME_RE.match(aws_name)):
            raise source.error(aws_name_key, expected(f"a function name of {FUNCTION_NAME_RULE}", aws_name))
    recursive_loop = RecursiveLoop.TERMINATE
    with problems.collect():
        recursive_loop = _read_recursive_loop(template, read)
    if len(problems) > problems_before or async_config is None:
        return None, routes

    function = FunctionSpec(
        name=name,
        handler=handler,
        memory_mb=memory_mb,
        timeout_s=timeout_s,
        environment=environment,
        reserved_concurrency=reserved,
        provisioned=provisioned,
        http=tuple(route.event for route in routes),
        triggers=triggers,
        async_config=async_config,
        runtime=runtime,
        layers=function_layers,
        auto_publish_alias=alias,
        code_dir=code_dir,
        aws_name=aws_name,
        recursive_loop=recursive_loop,
    )
    return function, routes


def _check_runtime(template: _Template, key: KeyPath, runtime: Any) -> str:
    if runtime is None:
        raise template.source.error(key, f"missing, expected {_RUNTIME_RULE}")
    if not isinstance(runtime, str) or not _PYTHON_RUNTIME_RE.match(runtime):
        raise template.source.error(key, expected(f"{_RUNTIME_RULE} (Squall runs Python 3 functions only)", runtime))
    return runtime


def _read_auto_publish_alias(template: _Template, read: _PropertyLookup) -> str | None:
    alias, key = read("AutoPublishAlias")
    if alias is None:
        return None
    if not isinstance(alias, str) or not ALIAS_PATTERN.fullmatch(alias) or alias.isdigit():
        raise template.source.error(
            key, expected("an alias name of 1 to 128 letters, digits, '-' or '_', not only digits", alias)
        )
    all_properties, all_key = read("AutoPublishAliasAllProperties")
    if all_properties is False:
        template.warnings.add(
            all_key,
            "Squall publishes a new version when the function's settings change too, as with "
            "AutoPublishAliasAllProperties: true; with false, SAM would publish only on a change of the code",
        )
    return alias


# Layers -----------------------------------------------------------------------------


def _read_layer(template: _Template, resource: TemplateResource) -> LayerSpec:
    """Read an AWS::Serverless::LayerVersion, named by its logical id; its ContentUri is a folder or .zip file."""
    # The properties that change nothing in Squall are accepted without a warning.
    template.catalog.check_properties(resource, RESOURCE_PROPERTIES[LAYER_TYPE] - {"PublishLambdaVersion"})
    reader = PropertyReader(template.evaluator, resource.properties, resource.properties_key)
    key = reader.key("ContentUri")
    content_uri = reader.value("ContentUri")
    if content_uri is None:
        raise template.source.error(key, f"missing, expected {PATH_RULE}")
    if not isinstance(content_uri, str) or "://" in content_uri:
        raise template.source.error(key, expected(f"{PATH_RULE} (S3 locations are not supported)", content_uri))
    return check_layer(template.source, key, resource.logical_id, content_uri)


def _read_function_layers(
    template: _Template, value: Any, key: KeyPath, layers: dict[str, LayerSpec]
) -> tuple[str, ...]:
    """Return the versions of a function's Layers, which are layer ARNs such as `!Ref CommonLayer` returns.

    An ARN of no layer in the template is a layer published on AWS, which
    Squall cannot fetch: it is listed as a warning and left out.
    """
    if value is None:
        return ()
    by_arn: dict[str, str] = {}
    for logical_id in layers:
        reference = template.catalog.lookup(logical_id, key)
        if reference is not None and reference.ref is not None:
            by_arn[reference.ref] = logical_id
    resolved = template.evaluator.resolve(value, key)
    if not isinstance(resolved, list):
        raise template.source.error(key, expected("a list of layer ARNs such as !Ref CommonLayer", resolved))

    names: list[str] = []
    for index, arn_value in enumerate(resolved):
        name = by_arn.get(arn_value) if isinstance(arn_value, str) else None
        if name is not None:
            names.append(name)
        elif isinstance(arn_value, str) and arn_value.startswith("arn:"):
            template.warnings.add(
                (*key, index),
                f"layer {describe(arn_value)} is not declared in this template, and Squall cannot download layers "
                f"from AWS, ignored; declare it as an {LAYER_TYPE}",
            )
        else:
            valid = ", ".join(f"!Ref {logical_id}" for logical_id in layers) or f"none: no {LAYER_TYPE} is declared"
            raise template.source.error((*key, index), f"unknown layer {describe(arn_value)}, expected one of: {valid}")
    return check_function_layers(template.source, key, names, layers)


def _integer(template: _Template, key: KeyPath, value: Any, low: int, high: int | None, unit: str) -> int:
    return read_integer(template.evaluator, key, value, low, low, high, unit)


def _check_package_type(template: _Template, properties: dict[str, _Property], read: _PropertyLookup) -> None:
    package_type, key = read("PackageType")
    if package_type not in (None, "Zip"):
        raise template.source.error(key, expected('"Zip" (container images are not supported by Squall)', package_type))
    if "InlineCode" in properties:
        raise template.source.error(
            properties["InlineCode"].key, "InlineCode is not supported by Squall, expected the code in a CodeUri folder"
        )
    if "ImageUri" in properties:
        raise template.source.error(properties["ImageUri"].key, "container images are not supported by Squall")


def _require_handler(template: _Template, read: _PropertyLookup) -> str:
    """Return the handler of a function in another language, checking only that it is there, because it names no .py file."""
    handler, handler_key = read("Handler")
    if handler is None:
        raise template.source.error(handler_key, f"missing, expected {HANDLER_RULE}")
    return str(handler)


def _read_handler(template: _Template, read: _PropertyLookup) -> tuple[str, str]:
    """Return the handler and its code folder (CodeUri) relative to the template folder, "" for that folder."""
    source = template.source
    handler, handler_key = read("Handler")
    if handler is None:
        raise source.error(handler_key, f"missing, expected {HANDLER_RULE}")
    if not isinstance(handler, str):
        raise source.error(handler_key, expected(HANDLER_RULE, handler))

    try:
        has_layers = bool(read("Layers")[0])
    except ManifestError:
        has_layers = True  # the Layers check reports the mistake, and the module may come from a layer
    code_uri, code_key = read("CodeUri")
    if code_uri is None:
        return check_handler(source, handler_key, handler, has_layers=has_layers), ""
    if not isinstance(code_uri, str) or "://" in code_uri:
        raise source.error(
            code_key, expected("a folder relative to the template, such as src/ (S3 locations are not supported)", code_uri)
        )
    folder = (source.root / code_uri).resolve()
    if not folder.is_relative_to(source.root):
        raise source.error(code_key, expected("a folder inside the template's folder", code_uri))
    if folder.is_file():
        raise source.error(
            code_key, f"{describe(code_uri)} is a file, expected the function's code folder (a .zip CodeUri is not supported)"
        )
    if not folder.is_dir():
        raise source.error(code_key, f"folder {describe(code_uri)} not found in {source.root}, expected the function's code folder")
    relative = folder.relative_to(source.root).as_posix()
    if relative == ".":
        return check_handler(source, handler_key, handler, has_layers=has_layers), ""
    # As on Lambda, the CodeUri folder is the function's code root: its
    # instances import the handler and the modules beside it from there.
    return check_handler(dataclasses.replace(source, root=folder), handler_key, handler, has_layers=has_layers), relative


def _read_provisioned(
    template: _Template, read: _PropertyLookup, reserved: int | None, function: str, has_alias: bool
) -> int:
    """Return the ProvisionedConcurrentExecutions of a function, 0 without a ProvisionedConcurrencyConfig."""
    config, key = read("ProvisionedConcurrencyConfig")
    if config is None:
        return 0
    if not isinstance(config, dict) or "ProvisionedConcurrentExecutions" not in config:
        raise template.source.error(key, expected('a mapping with "ProvisionedConcurrentExecutions"', config))
    template.warnings.unsupported_keys(key, config, {"ProvisionedConcurrentExecutions"})
    count_key = (*key, "ProvisionedConcurrentExecutions")
    count = _integer(template, count_key, config["ProvisionedConcurrentExecutions"], 0, None, "a whole number of instances")
    if reserved is not None and count > reserved:
        raise template.source.error(count_key, expected(f"at most ReservedConcurrentExecutions ({reserved})", count))
    if not has_alias:
        # SAM's transform (samtranslator/model/sam_resources.py) fails with
        # "To set ProvisionedConcurrencyConfig AutoPublishALias must be defined on the function".
        raise template.source.error(
            key,
            f"{_missing_alias(function)}, because SAM provisions the instances for that alias and rejects "
            "ProvisionedConcurrencyConfig without one",
        )
    return count


def _missing_alias(function: str) -> str:
    return f"missing AutoPublishAlias on function {function}, expected an alias such as AutoPublishAlias: live"


def _read_recursive_loop(template: _Template, read: _PropertyLookup) -> RecursiveLoop:
    """Return the function's RecursiveLoop setting: Terminate unless it is Allow, spelled as in the Lambda API's enum."""
    value, key = read("RecursiveLoop")
    if value is None:
        return RecursiveLoop.TERMINATE
    options = tuple(setting.value for setting in RecursiveLoop)
    if value not in options:
        meant = closest_key(value, options) if isinstance(value, str) else None
        hint = f' (did you mean "{meant}"?)' if meant else ""
        raise template.source.error(key, expected(" or ".join(options), value) + hint)
    return RecursiveLoop(value)


def _has_auto_publish_alias(read: _PropertyLookup) -> bool:
    """Return whether the function sets an AutoPublishAlias, as SAM tests it: present and not empty.

    An alias that cannot be resolved counts as set, because its own error is
    reported where AutoPublishAlias is read.
    """
    try:
        alias, _ = read("AutoPublishAlias")
    except ManifestError:
        return True
    return alias not in (None, "")


def _check_deployment_preference(template: _Template, read: _PropertyLookup, function: str, has_alias: bool) -> None:
    """Reject an enabled DeploymentPreference without AutoPublishAlias, as SAM does, and list an enabled one as ignored.

    SAM reads a missing Enabled as true. A disabled preference creates
    nothing on AWS, so it needs no alias and gets no warning.
    """
    preference, key = read("DeploymentPreference")
    if preference is None:
        return
    if not isinstance(preference, dict):
        raise template.source.error(key, expected('a mapping with "Type"', preference))
    enabled = preference.get("Enabled", True)
    if not read_boolean(template.evaluator, (*key, "Enabled"), enabled):
        return
    if not has_alias:
        raise template.source.error(
            key,
            f"{_missing_alias(function)}, because SAM shifts traffic to each new version through that alias and "
            "rejects an enabled DeploymentPreference without one",
        )
    template.warnings.add(key, _NO_GRADUAL)


def _read_environment(template: _Template, environment: _Property | None) -> dict[str, str]:
    if environment is None:
        return {}
    value = environment.value
    if is_function(value):
        value = template.evaluator.resolve(value, environment.key)
    if not isinstance(value, dict):
        raise template.source.error(environment.key, expected('a mapping with "Variables"', value))
    # Unknown keys are rejected where they are written, before Globals are merged in.
    variables_key = (*environment.key, "Variables")
    variables = value.get("Variables") or {}
    if is_function(variables):
        variables = template.evaluator.resolve(variables, variables_key)
    if not isinstance(variables, dict):
        raise template.source.error(variables_key, expected("a mapping of variable names to values", variables))

    check_environment_names(template.source, variables_key, variables)
    result: dict[str, str] = {}
    for name, raw in variables.items():
        key = (*variables_key, str(name))
        if not isinstance(name, str) or not ENVIRONMENT_NAME_RE.match(name):
            raise template.source.error(variables_key, expected(f"variable names of {ENVIRONMENT_NAME_RULE}", name))
        try:
            resolved = template.evaluator.resolve(raw, key)
        except Unresolvable as problem:
            template.warnings.add(key, f"not set: {problem.reason}")
            continue
        if resolved is NO_VALUE:
            continue
        if resolved is None or not isinstance(resolved, (str, int, float, bool)):
            raise template.source.error(key, expected("a string, number or boolean", resolved))
        if isinstance(resolved, str) and _DYNAMIC_REFERENCE in resolved:
            # CloudFormation fills these in from Secrets Manager or SSM at deploy; Squall has neither.
            raise template.source.error(
                key,
                "CloudFormation dynamic references ({{resolve:...}}) are not filled in by Squall: store the value"
                " with `squall secret set NAME` and write ${secret:NAME} in its place (in !Sub, ${!secret:NAME})",
            )
        result[name] = environment_value(resolved)
    return result


_DYNAMIC_REFERENCE = "{{resolve:"


def _read_logging_config(template: _Template, config: _Property | None) -> dict[str, str]:
    """Return the variables Lambda sets from LoggingConfig: the log format, and the level of JSON logs."""
    if config is None:
        return {}
    value = config.value
    if is_function(value):
        value = template.evaluator.resolve(value, config.key)
    if not isinstance(value, dict):
        raise template.source.error(config.key, expected('a mapping with "LogFormat"', value))
    template.warnings.unsupported_keys(config.key, value, _LOGGING_VARIABLES)
    resolved = {
        name: template.evaluator.resolve(setting, (*config.key, name))
        for name, setting in value.items()
        if name in _LOGGING_VARIABLES
    }
    return log_setting_variables(template.source, config.key, resolved, _LOGGING_VARIABLES)


def _with_failure_destinations(
    template: _Template,
    events: EventReader,
    read: _PropertyLookup,
    config: AsyncConfig,
    stream_failures: list[tuple[Destination, KeyPath]],
) -> AsyncConfig:
    """Set the dead-letter queue from DeadLetterQueue, and the on-failure destination from stream triggers' OnFailure."""
    dead_letter_queue = config.dead_letter_queue
    dead_letter, dead_letter_key = read("DeadLetterQueue")
    if dead_letter is not None:
        if not isinstance(dead_letter, dict):
            raise template.source.error(dead_letter_key, expected('a mapping with "Type" and "TargetArn"', dead_letter))
        template.warnings.unsupported_keys(dead_letter_key, dead_letter, {"Type", "TargetArn"})
        # None for Type SNS, which `destination` warns about.
        queue = events.destination(
            PropertyReader(template.evaluator, dead_letter, dead_letter_key), allowed=("SQS",), target="TargetArn"
        )
        if queue is not None:
            dead_letter_queue = queue.name

    on_failure = config.on_failure
    for destination, key in stream_failures:
        if on_failure is None:
            on_failure = destination
        elif destination != on_failure:
            raise template.source.error(
                key,
                f"{destination.kind} {describe(destination.name)} differs from the function's on-failure "
                f"{on_failure.kind} {describe(on_failure.name)}, expected the same destination: Squall keeps one "
                "on-failure destination per function",
            )
    return dataclasses.replace(config, on_failure=on_failure, dead_letter_queue=dead_letter_queue)
