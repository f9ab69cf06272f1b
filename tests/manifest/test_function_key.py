"""Key paths of a function's settings, as each manifest format spells them in messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.manifest.spec import FunctionSpec, ServiceSpec


@pytest.mark.parametrize(
    ("manifest", "setting", "key"),
    [
        ("squall.yml", "memory_mb", "functions.api.memory_mb"),
        ("serverless.yml", "memory_mb", "functions.api.memorySize"),
        ("serverless.yml", "on_failure", "functions.api.destinations.onFailure"),
        ("serverless.yml", "dead_letter_queue", "functions.api.onError"),
        ("template.yaml", "dead_letter_queue", "Resources.api.Properties.DeadLetterQueue.TargetArn"),
        ("template.yaml", "memory_mb", "Resources.api.Properties.MemorySize"),
        ("template.yaml", "events", "Resources.api.Properties.Events"),
        ("template.yml", None, "Resources.api.Properties"),
        ("squall.yml", None, "functions.api"),
    ],
)
def test_function_key_per_format(manifest: str, setting: str | None, key: str) -> None:
    service = ServiceSpec("shop", Path("/app"), Path("/app") / manifest, {"api": FunctionSpec("api", "app.handler")})

    assert service.function_key("api", setting) == key
