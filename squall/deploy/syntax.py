"""Deploy-time looks at the code: whether each handler module compiles, and which Python runs it.

A module with a syntax error still deploys, as on Lambda, where its calls
fail with `Runtime.UserCodeSyntaxError`. The deploy warns about it at once,
so that the mistake shows where the developer is looking. A declared
runtime other than the server's Python also gets a warning, since the
function runs on the server's Python all the same.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from squall.manifest.spec import ServiceSpec
from squall.manifest.validate import handler_module_files


def syntax_warnings(service: ServiceSpec) -> list[str]:
    """Describe each handler module that does not compile, one line each, naming the functions it serves."""
    functions_of: dict[str, list[str]] = {}
    for spec in service.functions.values():
        files = handler_module_files(spec.handler_path)
        relative = next((candidate for candidate in files if (service.root / candidate).is_file()), None)
        if relative is not None:  # else the manifest checks already refused a missing module
            functions_of.setdefault(relative, []).append(spec.name)

    warnings: list[str] = []
    for relative, functions in functions_of.items():
        problem = _compile_problem(service.root / relative)
        if problem is None:
            continue
        keys = ", ".join(service.function_key(name, "handler") for name in functions)
        warnings.append(
            f"{keys}: {relative} does not compile ({problem});"
            " its calls fail with Runtime.UserCodeSyntaxError until it does"
        )
    return warnings


def _compile_problem(path: Path) -> str | None:
    """Return what keeps the file from compiling, or None when it compiles."""
    try:
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    except SyntaxError as error:
        return f"{error.msg}, line {error.lineno}"
    except (OSError, ValueError) as error:
        return str(error)
    return None


def runtime_warnings(service: ServiceSpec) -> list[str]:
    """Describe each declared Python runtime that is not the server's Python, naming the keys that declare it."""
    running = f"python{sys.version_info.major}.{sys.version_info.minor}"
    keys_of: dict[str, dict[str, None]] = {}  # insertion-ordered sets of keys, by runtime
    document: Any = None
    for spec in service.functions.values():
        # A bare "python3" names no minor version, so any Python 3 fits it.
        if spec.runtime in (running, "python3"):
            continue
        if document is None:
            document = _raw_manifest(service.manifest_path)
        keys_of.setdefault(spec.runtime, {})[_runtime_key(service, spec.name, document)] = None
    return [
        f"{', '.join(keys)}: {runtime} is declared, but Squall runs every function on the server's Python ({running})"
        for runtime, keys in keys_of.items()
    ]


def _raw_manifest(path: Path) -> Any:
    """Return the manifest's keys as written, before variables, or {} when it cannot be read again."""
    from squall.manifest.sam_intrinsics import SamLoader
    from squall.manifest.serverless_common import ServerlessLoader

    if path.name.startswith("serverless"):
        loader: type[yaml.SafeLoader] = ServerlessLoader
    elif path.name.startswith("template"):
        loader = SamLoader
    else:
        return {}  # a squall.yml has no default runtime, so each function's own key names it
    try:
        return yaml.load(path.read_bytes(), Loader=loader)  # noqa: S506 - both loaders derive from SafeLoader
    except (OSError, yaml.YAMLError):
        return {}


def _runtime_key(service: ServiceSpec, function: str, document: Any) -> str:
    """Return the key that sets a function's runtime: its own, else the provider's or Globals' default.

    The default's key is returned only when the file shows the function's
    settings without a runtime, so functions brought in by `${file(...)}` keep their own key.
    """
    name = service.manifest_path.name
    if name.startswith("serverless"):
        settings = _mapping(_mapping(document).get("functions")).get(function)
        provider = _mapping(_mapping(document).get("provider"))
        if isinstance(settings, dict) and "runtime" not in settings and "runtime" in provider:
            return "provider.runtime"
    elif name.startswith("template"):
        resource = _mapping(_mapping(_mapping(document).get("Resources")).get(function))
        properties = resource.get("Properties")
        globals_function = _mapping(_mapping(_mapping(document).get("Globals")).get("Function"))
        if isinstance(properties, dict) and "Runtime" not in properties and "Runtime" in globals_function:
            return "Globals.Function.Runtime"
    return service.function_key(function, "runtime")


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}
