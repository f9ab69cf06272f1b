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
    """Describe each declared Python runtime that is not the server's Python, naming the functions that declare it."""
    running = f"python{sys.version_info.major}.{sys.version_info.minor}"
    functions_of: dict[str, list[str]] = {}
    for spec in service.functions.values():
        # A bare "python3" names no minor version, so any Python 3 fits it.
        if spec.runtime not in (running, "python3"):
            functions_of.setdefault(spec.runtime, []).append(spec.name)
    return [
        f"{', '.join(service.function_key(name, 'runtime') for name in functions)}: {runtime} is declared, but Squall runs"
        f" every function on the server's Python ({running})"
        for runtime, functions in functions_of.items()
    ]
