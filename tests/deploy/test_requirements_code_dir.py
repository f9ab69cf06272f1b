"""Requirements of functions with a code folder of their own (a SAM CodeUri), at deploy and in the zygote."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.deploy import dependencies
from squall.deploy.dependencies import install_service_requirements
from squall.deploy.requirements import find_requirements, site_packages_for
from squall.manifest.spec import FunctionSpec, ServiceSpec
from tests.deploy.test_dependencies import fake_installer, make_code_copy

# Writes an empty module, so that each environment is complete and differs only by its requirements.
EMPTY_INSTALL = "import pathlib, sys; pathlib.Path(sys.argv[1], 'installed.py').write_text('')"


@pytest.mark.parametrize(
    ("files", "code_dir", "handler", "expected"),
    [
        (["requirements.txt", "src/requirements.txt"], "src", "src/app.handler", "src/requirements.txt"),
        # The template folder's file does not apply to a function with its own folder.
        (["requirements.txt"], "src", "src/app.handler", None),
        # Nor does one in a subfolder of the code folder: sam build reads the folder's own file.
        (["src/handlers/requirements.txt"], "src", "src/handlers/app.handler", None),
        (["functions/users/requirements.txt"], "functions/users", "functions/users/app.get", "functions/users/requirements.txt"),
        # Without a code folder of its own, the nearest file up from the handler applies, as before.
        (["requirements.txt"], "", "src/app.handler", "requirements.txt"),
    ],
)
def test_requirements_file_for_code_dir(
    tmp_path: Path, files: list[str], code_dir: str, handler: str, expected: str | None
) -> None:
    for relative in files:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("six\n")

    found = find_requirements(tmp_path, handler, code_dir)

    assert found == (tmp_path / expected if expected else None)


async def test_zygote_finds_deployed_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dependencies, "find_installer", fake_installer(EMPTY_INSTALL))
    root = make_code_copy(tmp_path, {"requirements.txt": "six\n", "pinned/requirements.txt": "attrs\n"})
    functions = {
        "Top": FunctionSpec(name="Top", handler="app.handler"),
        "Own": FunctionSpec(name="Own", handler="app.handler", code_dir="own"),
        "Pinned": FunctionSpec(name="Pinned", handler="app.handler", code_dir="pinned"),
    }
    service = ServiceSpec(service="stack", root=root, manifest_path=Path("/src/stack/template.yaml"), functions=functions)

    environments = await install_service_requirements(service)

    assert sorted(environments) == ["Pinned", "Top"]
    assert environments["Pinned"] != environments["Top"]
    # The zygote finds what the deploy installed.
    assert site_packages_for(root, "app.handler") == (str(environments["Top"].site_packages),)
    assert site_packages_for(root, "own/app.handler", "own") == ()
    assert site_packages_for(root, "pinned/app.handler", "pinned") == (str(environments["Pinned"].site_packages),)
