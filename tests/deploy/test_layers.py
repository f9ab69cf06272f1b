"""Layers: manifest checks, safe zip extraction, versions by digest and sharing between services."""

from __future__ import annotations

import dataclasses
import json
import shutil
import stat
import sys
import zipfile
from pathlib import Path

import pytest

from squall.deploy.layers import (
    LayerContentError,
    check_function_sizes,
    check_zip,
    extract_zip,
    layer_paths_for,
    serverless_layer_logical_id,
    store_service_layers,
)
from squall.deploy.snapshot import snapshot
from squall.errors import DeployError, ManifestError
from squall.manifest import load_service
from squall.manifest.spec import ServiceSpec

FIXTURES = Path(__file__).resolve().parent / "layer_apps"
SITE_PACKAGES = f"python/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
TOOLS_MODULE = "NAME = 'tools from a zip layer'\n"


def build_zip(path: Path, members: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def copy_app(destination: Path, name: str = "service") -> Path:
    """Copy a fixture service and build the zip layer the squall.yml one declares."""
    folder = destination / name
    shutil.copytree(FIXTURES / name, folder)
    if name == "service":
        build_zip(folder / "layers" / "tools.zip", {f"{SITE_PACKAGES}/layer_tools.py": TOOLS_MODULE})
    return folder


def write_manifest(folder: Path, layers: str, function_layers: str) -> None:
    (folder / "squall.yml").write_text(
        "service: layered\n"
        f"layers:\n{layers}"
        "functions:\n"
        "  greet:\n"
        "    handler: app.greet\n"
        f"    layers: {function_layers}\n"
    )


def deploy_copy(folder: Path, data: Path) -> ServiceSpec:
    """Do what a deploy does before it starts zygotes: read, copy, store the layers."""
    service = load_service(folder)
    root = snapshot(folder, data / "code")
    return store_service_layers(dataclasses.replace(service, root=root))


# Reading manifests ------------------------------------------------------------------


def test_squall_yml_layers_carry_versions(tmp_path: Path) -> None:
    service = load_service(copy_app(tmp_path))

    layers = {layer.name: layer for layer in service.layers}
    assert layers["common"].path == "layers/common"
    assert layers["tools"].path == "layers/tools.zip"
    assert service.functions["greet"].layers == (layers["common"].version,)
    assert service.functions["tool"].layers == (layers["common"].version, layers["tools"].version)
    assert layers["common"].version == f"common@{layers['common'].digest}"
    assert len(layers["common"].digest) == 20


@pytest.mark.parametrize(
    ("layers", "function_layers", "key", "fragment"),
    [
        ("  common: {path: layers/common}\n", "[common, other]", "functions.greet.layers[1]", 'unknown layer "other"'),
        ("  common: {path: layers/nowhere}\n", "[common]", "layers.common.path", 'path "layers/nowhere" not found'),
        ("  common: {path: layers/fake.zip}\n", "[common]", "layers.common.path", "is not a zip archive"),
        ("  common: {path: layers/flat}\n", "[common]", "layers.common.path", 'layer "common" at "layers/flat" has no python/ folder'),
        ("  common: {path: layers/flat.zip}\n", "[common]", "layers.common.path", "has no python/ folder"),
        ("  common: {path: ../outside}\n", "[common]", "layers.common.path", "is outside the service folder"),
        ("  common: {}\n", "[common]", "layers.common.path", "missing"),
        ("  common: {path: node_modules/common}\n", "[common]", "layers.common.path", "inside node_modules/"),
        ("  common: {path: layers/common}\n", "[common, common]", "functions.greet.layers", "expected a list of at most 5 different layer names"),
        ("  common: {path: layers/common}\n", "[a, b, c, d, e, f]", "functions.greet.layers", "at most 5"),
        ("  bad/name: {path: layers/common}\n", "[common]", "layers", "layer names of 1 to 140 letters"),
    ],
)
def test_invalid_layers_name_the_key(
    tmp_path: Path, layers: str, function_layers: str, key: str, fragment: str
) -> None:
    folder = copy_app(tmp_path)
    (folder / "layers" / "fake.zip").write_text("not a zip")
    (folder / "layers" / "flat").mkdir()
    (folder / "layers" / "flat" / "common_util.py").write_text("")
    build_zip(folder / "layers" / "flat.zip", {"common_util.py": ""})
    (tmp_path / "outside" / "python").mkdir(parents=True)
    (folder / "node_modules" / "common" / "python").mkdir(parents=True)
    write_manifest(folder, layers, function_layers)

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert raised.value.key == key
    assert fragment in raised.value.detail


def test_layout_error_names_expected_layout(tmp_path: Path) -> None:
    folder = copy_app(tmp_path)
    (folder / "layers" / "common" / "python").rename(folder / "layers" / "common" / "lib")

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert 'layer "common"' in str(raised.value)
    assert "python/lib/python3.X/site-packages/" in str(raised.value)


def test_serverless_ref_and_foreign_arn(tmp_path: Path) -> None:
    service = load_service(copy_app(tmp_path, "serverless"))

    (layer,) = service.layers
    assert service.functions["greet"].layers == (layer.version,)
    assert any(warning.startswith("functions.greet.layers[1]: ") for warning in service.warnings)


def test_serverless_unknown_ref_fails(tmp_path: Path) -> None:
    folder = copy_app(tmp_path, "serverless")
    manifest = folder / "serverless.yml"
    manifest.write_text(manifest.read_text().replace("CommonLambdaLayer", "OtherLambdaLayer"))

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert raised.value.key == "functions.greet.layers[0]"
    assert "CommonLambdaLayer" in raised.value.detail


@pytest.mark.parametrize(
    ("name", "logical_id"),
    [("common", "CommonLambdaLayer"), ("my-layer", "MyDashlayerLambdaLayer"), ("my_layer", "MyUnderscorelayerLambdaLayer")],
)
def test_serverless_logical_ids(name: str, logical_id: str) -> None:
    assert serverless_layer_logical_id(name) == logical_id


def test_sam_layer_version_and_ref(tmp_path: Path) -> None:
    service = load_service(copy_app(tmp_path, "sam"))

    (layer,) = service.layers
    assert layer.name == "CommonLayer"
    assert service.functions["Greet"].layers == (layer.version,)
    assert any(warning.startswith("Resources.Greet.Properties.Layers[1]: ") for warning in service.warnings)
    assert not any("LayerVersion" in warning and "not supported" in warning for warning in service.warnings)


def test_sam_missing_content_uri_fails(tmp_path: Path) -> None:
    folder = copy_app(tmp_path, "sam")
    template = folder / "template.yaml"
    template.write_text(template.read_text().replace("ContentUri: layers/common/", "ContentUri: layers/gone/"))

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert raised.value.key == "Resources.CommonLayer.Properties.ContentUri"
    assert "not found" in raised.value.detail


# Zip safety -----------------------------------------------------------------------


def _symlink_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("python/ok.py", "")
        link = zipfile.ZipInfo("python/link.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    ("members", "fragment"),
    [
        ({"python/ok.py": "", "python/../../escape.py": ""}, "points outside the layer"),
        ({"python/ok.py": "", "/abs.py": ""}, "expected relative paths"),
        ({"python/ok.py": "", "python\\win.py": ""}, "expected relative paths"),
        ({"python/ok.py": "", "C:/drive.py": ""}, "expected relative paths"),
    ],
)
def test_unsafe_zip_members_rejected(tmp_path: Path, members: dict[str, str], fragment: str) -> None:
    archive = build_zip(tmp_path / "layer.zip", members)

    with pytest.raises(LayerContentError, match=fragment):
        extract_zip(archive, tmp_path / "out" / "layer")

    assert not (tmp_path / "out" / "layer").exists()
    assert not (tmp_path / "escape.py").exists()


def test_symlink_in_zip_rejected(tmp_path: Path) -> None:
    with pytest.raises(LayerContentError, match="symbolic link"):
        check_zip(_symlink_zip(tmp_path / "layer.zip"))


def test_oversized_zip_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from squall.deploy import layers

    monkeypatch.setattr(layers, "MAX_LAYER_BYTES", 10)
    archive = build_zip(tmp_path / "layer.zip", {"python/big.py": "x" * 100})

    with pytest.raises(LayerContentError, match="over Lambda's limit"):
        check_zip(archive)


def test_extract_zip_writes_members(tmp_path: Path) -> None:
    archive = build_zip(tmp_path / "layer.zip", {"python/pkg/__init__.py": "VALUE = 1\n", "python/top.py": "x = 2\n"})

    written = extract_zip(archive, tmp_path / "out")

    assert written == len("VALUE = 1\n") + len("x = 2\n")
    assert (tmp_path / "out" / "python" / "pkg" / "__init__.py").read_text() == "VALUE = 1\n"


# Versions and sharing ------------------------------------------------------------------


def test_two_services_share_one_copy(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = copy_app(tmp_path / "one")
    second = copy_app(tmp_path / "two")
    manifest = second / "squall.yml"
    manifest.write_text(manifest.read_text().replace("service: layered", "service: layered-two"))

    one = deploy_copy(first, data)
    two = deploy_copy(second, data)

    assert one.root != two.root
    assert one.functions["greet"].layers == two.functions["greet"].layers
    assert len(list((data / "layers" / "common").iterdir())) == 1
    assert len(list((data / "layers" / "tools").iterdir())) == 1


def test_changed_layer_is_new_version(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = copy_app(tmp_path)
    before = deploy_copy(folder, data)

    (folder / "layers" / "common" / "python" / "common_util.py").write_text("GREETING = 'second version'\n")
    after = deploy_copy(folder, data)

    old, new = before.functions["greet"].layers[0], after.functions["greet"].layers[0]
    assert old != new
    old_folder = data / "layers" / "common" / old.split("@")[1]
    new_folder = data / "layers" / "common" / new.split("@")[1]
    assert "hello from the common layer" in (old_folder / "python" / "common_util.py").read_text()
    assert "second version" in (new_folder / "python" / "common_util.py").read_text()
    # The first copy's zygotes, started again, still find the first version.
    assert layer_paths_for(before.root, "greet") == (str(old_folder / "python"),)


def test_import_paths_follow_lambda_precedence(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = deploy_copy(copy_app(tmp_path), data)

    paths = layer_paths_for(service.root, "tool")

    tools = data / "layers" / "tools" / service.functions["tool"].layers[1].split("@")[1]
    common = data / "layers" / "common" / service.functions["tool"].layers[0].split("@")[1]
    # site-packages folders first, then python/ folders, the last listed layer first in each.
    assert paths == (str(tools / SITE_PACKAGES), str(tools / "python"), str(common / "python"))
    assert layer_paths_for(service.root, "no-such-function") == ()


def test_bindings_record_versions(tmp_path: Path) -> None:
    service = deploy_copy(copy_app(tmp_path), tmp_path / "data")

    recorded = json.loads((tmp_path / "data" / "layers" / ".bindings" / f"{service.root.name}.json").read_text())

    assert recorded["functions"]["tool"] == list(service.functions["tool"].layers)


def test_layer_missing_from_copy_fails_deploy(tmp_path: Path) -> None:
    folder = copy_app(tmp_path)
    service = load_service(folder)
    root = snapshot(folder, tmp_path / "data" / "code")
    shutil.rmtree(root / "layers" / "common")

    with pytest.raises(DeployError, match="layer 'common' at layers/common"):
        store_service_layers(dataclasses.replace(service, root=root))


# Size of a function with its layers ------------------------------------------------------


def test_code_and_layers_counted_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = copy_app(tmp_path)
    (folder / "data.bin").write_bytes(b"d" * 3000)
    (folder / "layers" / "common" / "python" / "blob.bin").write_bytes(b"b" * 2000)
    service = deploy_copy(folder, tmp_path / "data")
    # greet has the code and the common layer, 5,000 bytes and more; tool also has the tools layer.
    monkeypatch.setattr("squall.deploy.layers.MAX_LAYER_BYTES", 4000)

    with pytest.raises(DeployError) as rejected:
        check_function_sizes(service)

    message = str(rejected.value)
    assert "functions.greet.layers: the code (" in message
    assert "over Lambda's limit of 4000 bytes unzipped" in message


def test_code_and_layers_within_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = copy_app(tmp_path)
    (folder / "data.bin").write_bytes(b"d" * 3000)
    (folder / "layers" / "common" / "python" / "blob.bin").write_bytes(b"b" * 1000)
    service = deploy_copy(folder, tmp_path / "data")
    # About 4,300 bytes in all; the layer's folder inside the code copy, counted twice, would pass 5,000.
    monkeypatch.setattr("squall.deploy.layers.MAX_LAYER_BYTES", 4800)

    check_function_sizes(service)
