"""Local files that a requirements file names: includes, local packages and --find-links folders."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from squall.deploy.dependencies import install_service_requirements
from squall.deploy.requirements import (
    environment_digest,
    environment_for,
    local_inputs,
    normalise_requirements,
    read_requirements,
    site_packages_for,
)
from squall.errors import DeployError
from squall.manifest.spec import FunctionSpec, ServiceSpec


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def service(root: Path) -> ServiceSpec:
    functions = {"greet": FunctionSpec(name="greet", handler="app.greet")}
    return ServiceSpec(service="inputs", root=root, manifest_path=root / "squall.yml", functions=functions)


def digest(root: Path) -> str:
    return environment_for(root, root / "requirements.txt").digest


def test_inputs_follow_includes(tmp_path: Path) -> None:
    root = write(tmp_path / "code" / "a", {
        "requirements.txt": "-r more.txt\n--constraint=pins.txt\n./libs/mylib\n-f ./wheels\nsix==1.16.0\n",
        "more.txt": "vendor/pkg-1.0.tar.gz\n",
        "pins.txt": "six<2\n",
        "libs/mylib/pyproject.toml": "[project]\nname = 'mylib'\n",
        "vendor/pkg-1.0.tar.gz": "archive",
        "wheels/x.whl": "wheel",
    })

    inputs = local_inputs(root / "requirements.txt", root)

    relative = {path.relative_to(root.resolve()).as_posix() for path in inputs.paths}
    assert relative == {"more.txt", "pins.txt", "libs/mylib", "vendor/pkg-1.0.tar.gz", "wheels"}
    assert inputs.outside == ()
    assert inputs.editable == ()
    assert inputs.hashed is False


def test_changed_include_gets_new_environment(tmp_path: Path) -> None:
    root = write(tmp_path / "code" / "a", {"requirements.txt": "-r other.txt\n", "other.txt": "packaging==23.2\n"})
    before = digest(root)

    (root / "other.txt").write_text("packaging==24.0\n")

    assert digest(root) != before


def test_changed_package_gets_new_environment(tmp_path: Path) -> None:
    root = write(tmp_path / "code" / "a", {"requirements.txt": "./libs/mylib\n", "libs/mylib/mylib.py": "VALUE = 1\n"})
    before = digest(root)
    # What building the package leaves in its folder does not count.
    write(root, {"libs/mylib/build/lib/mylib.py": "VALUE = 1\n", "libs/mylib/mylib.egg-info/PKG-INFO": "x"})
    assert digest(root) == before

    (root / "libs/mylib/mylib.py").write_text("VALUE = 2\n")

    assert digest(root) != before


def test_same_local_package_shares_environment(tmp_path: Path) -> None:
    files = {"requirements.txt": "./libs/mylib\n", "libs/mylib/mylib.py": "VALUE = 1\n"}
    first = write(tmp_path / "code" / "a", files)
    second = write(tmp_path / "code" / "b", files)
    other = write(tmp_path / "code" / "c", {**files, "libs/mylib/mylib.py": "VALUE = 'other'\n"})

    assert digest(first) == digest(second)
    assert digest(first) != digest(other)


def test_hash_lines_and_editable_found(tmp_path: Path) -> None:
    root = write(tmp_path / "code" / "a", {
        "requirements.txt": "six==1.16.0 --hash=sha256:abc\n-e ./libs/mylib\n",
        "libs/mylib/mylib.py": "",
    })

    inputs = local_inputs(root / "requirements.txt", root)

    assert inputs.hashed is True
    assert inputs.editable == ("-e ./libs/mylib",)


def test_utf16_file_read(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "six==1.7.2\r\n".encode("utf-16-le"))

    assert read_requirements(path) == "six==1.7.2\r\n"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("-r ../common/requirements.txt\n", "outside the service folder"),
        ("../libs/mylib\n", "outside the service folder"),
        ("-e ./libs/mylib\n", "without -e"),
    ],
)
async def test_uninstallable_lines_rejected(tmp_path: Path, text: str, named: str) -> None:
    write(tmp_path / "code", {"common/requirements.txt": "six\n", "libs/mylib/mylib.py": ""})
    root = write(tmp_path / "code" / "a", {"requirements.txt": text, "app.py": "", "libs/mylib/mylib.py": ""})

    with pytest.raises(DeployError) as caught:
        await install_service_requirements(service(root))

    assert named in str(caught.value)
    assert text.strip() in str(caught.value)


def test_copy_from_before_keeps_its_environment(tmp_path: Path) -> None:
    root = write(tmp_path / "data" / "code" / "old", {"requirements.txt": "-r other.txt\n", "other.txt": "six\n"})
    # The environment a deploy named by the requirements' text alone, before local files counted.
    text_only = environment_digest(normalise_requirements("-r other.txt\n"))
    earlier = tmp_path / "data" / "envs" / text_only
    (earlier / "site-packages").mkdir(parents=True)
    (earlier / ".complete").write_text("{}")

    assert digest(root) != text_only
    assert site_packages_for(root, "app.greet") == (str(earlier / "site-packages"),)


async def test_file_url_outside_rejected(tmp_path: Path) -> None:
    write(tmp_path / "code", {"outside/mylib/mylib.py": ""})
    root = write(tmp_path / "code" / "a", {"requirements.txt": "mylib @ file:../outside/mylib\n", "app.py": ""})

    with pytest.raises(DeployError, match="outside the service folder"):
        await install_service_requirements(service(root))
