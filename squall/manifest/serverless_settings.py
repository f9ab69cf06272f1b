"""Top-level and provider settings of a serverless.yml: plugins, packaging, buckets and environment."""

from __future__ import annotations

from typing import Any

from squall.manifest.serverless_common import CloudFormationTag, Warnings, javascript_number_text
from squall.manifest.serverless_resources import Catalog, intrinsic_text
from squall.manifest.validate import (
    ENVIRONMENT_NAME_RE,
    ENVIRONMENT_NAME_RULE,
    KeyPath,
    ManifestSource,
    check_environment_names,
    environment_value,
    expected,
    log_setting_variables,
)

# Squall runs handlers with the packages of the Python environment it runs
# in, so this plugin's packaging step has nothing to do and is not warned about.
_QUIET_PLUGINS = frozenset({"serverless-python-requirements"})



def read_plugins(source: ManifestSource, plugins: Any, warnings: Warnings) -> None:
    if plugins is None:
        return
    # v3 also accepts {localPath, modules}.
    names = plugins.get("modules") if isinstance(plugins, dict) else plugins
    if not isinstance(names, list):
        raise source.error(("plugins",), expected("a list of plugin names", plugins))
    ignored = [str(name) for name in names if name not in _QUIET_PLUGINS]
    if ignored:
        warnings.add(
            ("plugins",),
            "Squall does not run Serverless Framework plugins, so these are ignored: " + ", ".join(ignored),
        )


def read_package(source: ManifestSource, key: KeyPath, package: Any, warnings: Warnings, service_level: bool) -> tuple[str, ...]:
    """Return the service's package patterns, with v2's `exclude` and `include` turned into patterns.

    Functions share the service's one code copy, so a function's own patterns
    are listed in a warning instead.
    """
    if not isinstance(package, dict):
        if package is not None:
            warnings.unsupported(key)
        return ()
    patterns: list[str] = []
    for name, value in package.items():
        if name not in ("patterns", "include", "exclude"):
            # `individually` and `artifact` are about zip files Squall does not build.
            warnings.unsupported((*key, name))
            continue
        if not service_level:
            warnings.add(
                (*key, name),
                "functions share the service's code copy in Squall, so only the service's package patterns apply",
            )
            continue
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise source.error((*key, name), expected("a list of glob patterns such as '!tests/**'", value))
        if name == "exclude":
            patterns += [f"!{item}" for item in value]
        else:
            patterns += value
    return tuple(patterns)


def read_provider_buckets(
    source: ManifestSource, provider: dict[Any, Any], warnings: Warnings
) -> dict[str, str]:
    """Return the bucket names of `provider.s3`, by the key an s3 event refers to them with."""
    key: KeyPath = ("provider", "s3")
    buckets = provider.get("s3")
    if buckets is None:
        return {}
    if not isinstance(buckets, dict):
        raise source.error(key, expected("a mapping of bucket keys to bucket settings", buckets))
    names: dict[str, str] = {}
    for bucket_key, settings in buckets.items():
        settings = settings or {}
        if not isinstance(settings, dict):
            raise source.error((*key, str(bucket_key)), expected("a mapping of bucket settings", settings))
        warnings.unsupported_keys((*key, str(bucket_key)), settings, ("name", "bucketName"))
        # The Framework uses the key itself when neither name is given.
        names[str(bucket_key)] = str(settings.get("name") or settings.get("bucketName") or bucket_key)
    return names


def read_environment(
    source: ManifestSource, key: KeyPath, variables: Any, catalog: Catalog, warnings: Warnings
) -> dict[str, str]:
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise source.error(
            key, expected("a mapping of environment variable names to values", variables)
        )

    check_environment_names(source, key, variables)
    environment: dict[str, str] = {}
    for name, value in variables.items():
        if not isinstance(name, str) or not ENVIRONMENT_NAME_RE.match(name):
            raise source.error(key, expected(f"variable names of {ENVIRONMENT_NAME_RULE}", name))
        value_key = (*key, name)
        if isinstance(value, dict) and not _is_intrinsic_function(value):
            # Lambda's variables are strings: CloudFormation rejects any other mapping.
            raise source.error(value_key, expected("a string, number, boolean or CloudFormation function such as Ref", value))
        if isinstance(value, (CloudFormationTag, dict)):
            # Ref of a declared resource gives its name, even for a queue, whose Ref on AWS gives its URL.
            text = catalog.evaluate(value)
            if text is None:
                warnings.add(
                    value_key,
                    f"Squall cannot evaluate {intrinsic_text(value)}, so the variable is not set: "
                    f"{catalog.unevaluated_reason(value)}",
                )
                continue
            value = text
        if value is None or not isinstance(value, (str, int, float, bool)):
            raise source.error(value_key, expected("a string, number or boolean", value))
        if isinstance(value, float):
            value = javascript_number_text(value)
        environment[name] = environment_value(value)
    return environment


def _is_intrinsic_function(value: dict[Any, Any]) -> bool:
    """Tell whether a mapping is a CloudFormation function in its long form: one key, Ref or Fn::NAME."""
    if len(value) != 1:
        return False
    name = next(iter(value))
    return isinstance(name, str) and (name == "Ref" or name.startswith("Fn::"))


# The Framework's advanced logging settings, as the variables Lambda sets from them.
_LOGGING_VARIABLES = {"logFormat": "AWS_LAMBDA_LOG_FORMAT", "applicationLogLevel": "AWS_LAMBDA_LOG_LEVEL"}


def read_logging(source: ManifestSource, key: KeyPath, settings: Any, warnings: Warnings) -> dict[str, str]:
    """Return the variables a `logs` mapping of Lambda logging settings sets (provider.logs.lambda or a function's logs)."""
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise source.error(key, expected("a mapping of Lambda logging settings, such as {logFormat: JSON}", settings))
    warnings.unsupported_keys(key, settings, _LOGGING_VARIABLES)
    return log_setting_variables(source, key, settings, _LOGGING_VARIABLES)
