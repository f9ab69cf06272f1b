"""Top-level and provider settings of a serverless.yml: plugins, packaging, buckets and environment."""

from __future__ import annotations

from typing import Any

from squall.manifest.serverless_common import CloudFormationTag, Warnings
from squall.manifest.serverless_resources import Catalog
from squall.manifest.validate import (
    ENVIRONMENT_NAME_RE,
    ENVIRONMENT_NAME_RULE,
    KeyPath,
    ManifestSource,
    describe,
    environment_value,
    expected,
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


def read_package(key: KeyPath, package: Any, warnings: Warnings) -> None:
    if not isinstance(package, dict):
        if package is not None:
            warnings.unsupported(key)
        return
    for name in package:
        if name in ("patterns", "include", "exclude"):
            warnings.add(
                (*key, name),
                "Squall runs handlers from the whole service folder, so these patterns are ignored",
            )
        else:
            warnings.unsupported((*key, name))


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

    environment: dict[str, str] = {}
    for name, value in variables.items():
        if not isinstance(name, str) or not ENVIRONMENT_NAME_RE.match(name):
            raise source.error(key, expected(f"variable names of {ENVIRONMENT_NAME_RULE}", name))
        value_key = (*key, name)
        if isinstance(value, (CloudFormationTag, dict)):
            # Ref of a declared bucket, table or stream is its name, as in CloudFormation.
            text = catalog.evaluate(value)
            if text is None:
                warnings.add(
                    value_key,
                    f"{describe(value)} needs AWS to evaluate (Squall evaluates Ref, Fn::GetAtt, "
                    "Fn::Sub and Fn::Join of declared resources and pseudo parameters), so the "
                    "variable is not set",
                )
                continue
            value = text
        if value is None or not isinstance(value, (str, int, float, bool)):
            raise source.error(value_key, expected("a string, number or boolean", value))
        environment[name] = environment_value(value)
    return environment
