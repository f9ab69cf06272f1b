"""The hub's argument check: every operation declares the arguments it reads, and nothing else gets through."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from squall.services.errors import InvalidParameter
from squall.services.hub import SERVICES, ServiceHub


def names_read(module: object) -> dict[str, set[str]]:
    """Find, in an api module's source, the argument names each operation reads through `args`."""
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}

    def read(name: str, seen: set[str]) -> set[str]:
        if name in seen or name not in functions:
            return set()
        seen.add(name)
        found: set[str] = set()
        for node in ast.walk(functions[name]):
            if not isinstance(node, ast.Call):
                continue
            first = node.args[0] if node.args else None
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) and node.func.value.id == "args":
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
            if isinstance(first, ast.Name) and first.id == "args" and len(node.args) > 1:
                second = node.args[1]
                if isinstance(second, ast.Constant) and isinstance(second.value, str):
                    found.add(second.value)
            if isinstance(node.func, ast.Name):
                found |= read(node.func.id, seen)
        return found

    operations = {**module.OPERATIONS, **getattr(module, "ASYNC_OPERATIONS", {})}  # type: ignore[attr-defined]
    return {operation: read(handler.__name__, set()) for operation, handler in operations.items()}


@pytest.mark.parametrize("service", SERVICES)
def test_declared_arguments_match_code(service: str) -> None:
    module = importlib.import_module(f"squall.services.{service}.api")
    declared = {operation: set(names) for operation, names in module.ARGUMENTS.items()}

    found = names_read(module)

    assert set(declared) == set(found)
    for operation, names in found.items():
        # Nested objects (a stream position, batch entries) read their own fields, so the
        # top-level declaration may be smaller than what the source mentions, never larger.
        assert declared[operation] <= names, operation


async def test_unknown_argument_rejected(tmp_path: Path) -> None:
    hub = ServiceHub(tmp_path)
    await hub.call("queues", "create_queue", {"queue": "jobs"})

    with pytest.raises(InvalidParameter) as raised:
        await hub.call("queues", "send", {"queue": "jobs", "body": "typo", "delay": 60})

    assert "'delay'" in str(raised.value)
    assert "did you mean 'delay_s'?" in str(raised.value)
    stats = await hub.call("queues", "get_queue", {"queue": "jobs"})
    assert stats["stats"]["visible"] == 0
    hub.close()
