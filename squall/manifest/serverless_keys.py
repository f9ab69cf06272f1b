"""The keys the Serverless Framework defines for serverless.yml, and the check of a mapping's keys against them.

A key Squall does not read is either a Framework key Squall does not
support yet, or no Framework key at all, which is most often a misspelling.
The Framework reports the second kind through its configuration validation,
which by default (`configValidationMode: warn`) prints a warning and deploys
anyway; Squall does the same, and names the key that was probably meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from squall.manifest.serverless_common import Warnings
from squall.manifest.validate import KeyPath

# The key sets below are those of Serverless Framework v3's configuration
# schema (top level, AWS provider, function, http and httpApi events), plus a
# few v2 keys that v3 moved elsewhere.
# NOTE: keys added in v4 only, and keys that plugins add to the schema, are not
# listed, so they are reported as unknown keys.

# `layers` and `resources` come from the AWS provider's part of the schema.
FRAMEWORK_TOP_LEVEL_KEYS = frozenset({
    "service", "provider", "functions", "resources", "layers", "custom", "params", "plugins", "package",
    "frameworkVersion", "configValidationMode", "deprecationNotificationMode", "disabledDeprecations", "projectDir",
    "useDotenv", "variablesResolutionMode", "console",
})

FRAMEWORK_PROVIDER_KEYS = frozenset({
    "name", "alb", "apiGateway", "apiName", "architecture", "cfnRole", "cloudFront", "deploymentBucket",
    "deploymentMethod", "deploymentPrefix", "disableRollback", "ecr", "endpointType", "environment", "eventBridge",
    "httpApi", "iam", "iamManagedPolicies", "iamRoleStatements", "kinesis", "kmsKeyArn", "lambdaHashingVersion",
    "layers", "logDataProtectionPolicy", "logRetentionInDays", "logs", "memorySize", "notificationArns", "profile",
    "region", "role", "rolePermissionsBoundary", "rollbackConfiguration", "runtime", "runtimeManagement", "s3",
    "stackName", "stackParameters", "stackPolicy", "stackTags", "stage", "tags", "timeout", "tracing",
    "versionFunctions", "vpc", "vpcEndpointIds", "websocket", "websocketsApiName",
    "websocketsApiRouteSelectionExpression", "websocketsDescription",
    # v2, where v3 has them under apiGateway
    "apiKeys", "resourcePolicy", "usagePlan",
})

FRAMEWORK_FUNCTION_KEYS = frozenset({
    "name", "events", "architecture", "awsKmsKeyArn", "condition", "dependsOn", "description", "destinations",
    "disableLogs", "environment", "ephemeralStorageSize", "fileSystemConfig", "handler", "httpApi", "image",
    "kmsKeyArn", "layers", "logDataProtectionPolicy", "logRetentionInDays", "maximumEventAge",
    "maximumRetryAttempts", "memorySize", "onError", "package", "provisionedConcurrency", "reservedConcurrency",
    "role", "runtime", "runtimeManagement", "snapStart", "tags", "timeout", "tracing", "url", "versionFunction",
    "vpc",
})

FRAMEWORK_HTTP_EVENT_KEYS = frozenset({
    "async", "authorizer", "connectionId", "connectionType", "cors", "integration", "method", "operationId",
    "path", "private", "request", "response", "timeoutInMillis",
})

FRAMEWORK_HTTP_API_EVENT_KEYS = frozenset({"authorizer", "method", "path"})

FRAMEWORK_EVENT_TYPES = frozenset({
    "activemq", "alb", "alexaSkill", "alexaSmartHome", "cloudFront", "cloudwatchEvent", "cloudwatchLog",
    "cognitoUserPool", "eventBridge", "http", "httpApi", "iot", "iotFleetProvisioning", "kafka", "msk", "rabbitmq",
    "s3", "schedule", "sns", "sqs", "stream", "websocket",
})


def check_keys(
    warnings: Warnings, key: KeyPath, mapping: dict[Any, Any], read: Iterable[str], framework: Iterable[str]
) -> None:
    """Warn about each key of `mapping` that Squall does not `read`.

    A key of the Framework's own schema (`framework`) is listed as not
    supported yet. Any other key is reported as unknown, with the key Squall
    reads that it most likely misspells.
    """
    read = frozenset(read)
    framework = frozenset(framework)
    for name in mapping:
        if name in read:
            continue
        name_key = (*key, str(name))
        if name in framework:
            warnings.unsupported(name_key)
            continue
        meant = closest_key(str(name), read)
        if meant is None:
            warnings.add(name_key, "unknown key (not a key of the Serverless Framework itself), ignored")
        else:
            warnings.add(name_key, f'unknown key, did you mean "{meant}"? ignored')


def closest_key(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate that `name` most likely misspells, or None when none is close.

    Case is ignored, so that "memorysize" and "MemorySize" both find "memorySize".
    """
    by_folded = {candidate.casefold(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(name.casefold(), list(by_folded), n=1)
    return by_folded[matches[0]] if matches else None


def misspelling_hint(mapping: dict[Any, Any], missing: str, known: Iterable[str]) -> str:
    """Return a hint naming the key of `mapping` that misspells the `missing` one, or "" when there is none.

    Only keys outside `known` count, so that "path" is not offered for "method".
    """
    known = frozenset(known)
    for name in mapping:
        if isinstance(name, str) and name not in known and closest_key(name, (missing,)) == missing:
            return f' (found "{name}", did you mean "{missing}"?)'
    return ""
