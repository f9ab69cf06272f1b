"""The deploy warns about a handler module that does not compile, and deploys it anyway."""

from __future__ import annotations

import sys
from pathlib import Path

from squall.deploy.syntax import runtime_warnings, syntax_warnings
from squall.manifest.spec import FunctionSpec, ServiceSpec


def service_of(root: Path, runtime: str = "python3", **handlers: str) -> ServiceSpec:
    functions = {name: FunctionSpec(name=name, handler=handler, runtime=runtime) for name, handler in handlers.items()}
    return ServiceSpec(service="s", root=root, manifest_path=root / "squall.yml", functions=functions)


def test_broken_module_is_named_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("def handler(event, context):\n    return (\n")

    warnings = syntax_warnings(service_of(tmp_path, ok="good.handler", broken="pkg.handler"))

    assert len(warnings) == 1
    assert warnings[0].startswith("functions.broken.handler: pkg/__init__.py does not compile (")
    assert "line 2" in warnings[0]
    assert warnings[0].endswith("its calls fail with Runtime.UserCodeSyntaxError until it does")


def test_compiling_is_not_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "app.py").write_text(f"open({str(marker)!r}, 'w').write('yes')\ndef handler(event, context):\n    return 1\n")

    assert syntax_warnings(service_of(tmp_path, f="app.handler")) == []
    assert not marker.exists()


def test_shared_module_is_named_once(tmp_path: Path) -> None:
    (tmp_path / "handlers.py").write_text("def first(event, context):\n    return (\n")

    warnings = syntax_warnings(service_of(tmp_path, a="handlers.first", b="handlers.second"))

    assert len(warnings) == 1
    assert warnings[0].startswith("functions.a.handler, functions.b.handler: handlers.py does not compile (")


def test_other_python_runtime_is_named(tmp_path: Path) -> None:
    running = f"python{sys.version_info.major}.{sys.version_info.minor}"
    other = "python3.99"

    warnings = runtime_warnings(service_of(tmp_path, other, a="app.a", b="app.b"))

    assert warnings == [
        f"functions.a.runtime, functions.b.runtime: {other} is declared, but Squall runs every function"
        f" on the server's Python ({running})"
    ]
    assert runtime_warnings(service_of(tmp_path, running, a="app.a")) == []
    assert runtime_warnings(service_of(tmp_path, "python3", a="app.a")) == []
