"""Lambda layers: shared folders or .zip files of Python modules, stored once per content.

A layer is a folder or a .zip file inside the service folder, laid out as
Lambda expects: modules under `python/` or `python/lib/python3.X/site-packages/`.
Its version is a digest of its content, so an edited layer is a new version
and two functions or services using the same content share one copy.

The work happens in three places:

- Reading a manifest: `check_layer` checks a declared layer (path, zip,
  layout) and computes its digest; `check_function_layers` checks a
  function's list of layer names. Errors are ManifestErrors with the key path.
- Deploying: `store_service_layers` copies each layer of the code copy to
  `DATA/layers/<name>/<digest>/` (a zip is extracted with its paths checked)
  and records which versions each function uses, keyed by the code copy.
- Starting a zygote: `layer_paths_for` returns the folders the function's
  instances import from, after the code and its requirements.

Lambda extracts a function's layers into `/opt` in the order the function
lists them, which AWS's guide "Adding layers to functions" calls the merge
order. Its Python runtimes put `/var/task` (the code, with the packages
bundled into it) first on sys.path, then `/opt/python/lib/python3.X/site-packages`,
then `/opt/python`. Squall keeps each layer in a folder of its own, so it
imitates that order with one sys.path entry per layer folder (see
`layer_paths_for`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import sys
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from squall.deploy.snapshot import EXCLUDED_DIRS, code_files, compile_bytecode
from squall.errors import DeployError

if TYPE_CHECKING:
    from squall.manifest.spec import LayerSpec, ServiceSpec
    from squall.manifest.validate import KeyPath, ManifestSource

# Nothing from squall.manifest is imported at module level: the manifest
# readers import this module while the squall.manifest package initialises,
# so an import from it here would be circular when this module is imported first.

logger = logging.getLogger(__name__)

# Lambda's rule for layer names.
LAYER_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,140}$"
LAYER_NAME_RULE = "1 to 140 letters, digits, hyphens or underscores"
# Lambda's quotas: five layers per function, 250 MB unzipped for a function and its layers,
# which its API reports as 262,144,000 bytes (CodeSizeUnzipped).
MAX_LAYERS_PER_FUNCTION = 5
MAX_LAYER_BYTES = 250 * 1024 * 1024

LAYERS_DIR = "layers"
# Starts with a dot, which no layer name does, so it never clashes with a layer's folder.
BINDINGS_DIR = ".bindings"
PYTHON_DIR = "python"
LAYOUT_RULE = (
    'a "python" folder at its top, with modules in python/ or python/lib/python3.X/site-packages/, '
    "as Lambda expects"
)
PATH_RULE = "a folder or .zip file inside the service folder, such as layers/common or layers/common.zip"

_READ_CHUNK_BYTES = 1024 * 1024

# JSON Schemas for squall.yml, with the `x-expected` phrases its reader turns into messages.
LAYERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-expected": "a mapping of layer names to {path: FOLDER or ZIP FILE}",
    "propertyNames": {"pattern": LAYER_NAME_PATTERN, "x-expected": f"layer names of {LAYER_NAME_RULE}"},
    "additionalProperties": {
        "type": "object",
        "x-expected": 'a mapping with "path"',
        "required": ["path"],
        "additionalProperties": False,
        "properties": {"path": {"type": "string", "minLength": 1, "x-expected": PATH_RULE}},
    },
}
FUNCTION_LAYERS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "maxItems": MAX_LAYERS_PER_FUNCTION,
    "uniqueItems": True,
    "x-expected": f"a list of at most {MAX_LAYERS_PER_FUNCTION} different layer names",
    "items": {"type": "string", "x-expected": "the name of a layer declared under the top-level layers key"},
}


class LayerContentError(ValueError):
    """Raised for a layer whose content is not a safe, well-formed layer; the caller adds where it was declared."""


# Versions ----------------------------------------------------------------------


def split_layer_version(version: str) -> tuple[str, str]:
    """Split "name@digest" into the name and the digest (empty when the version has none)."""
    name, _, digest = version.partition("@")
    return name, digest


def folder_digest(folder: Path) -> str:
    """Return the digest of a layer folder: every file's relative path, size and content.

    The files are those a code copy keeps (see `code_files`), so the folder
    and its copy under DATA/code have the same digest.
    """
    digest = hashlib.sha256(b"folder\0")
    for relative, path in code_files(folder):
        digest.update(f"{relative}\0{path.stat().st_size}\0".encode())
        with open(path, "rb") as file:
            while chunk := file.read(_READ_CHUNK_BYTES):
                digest.update(chunk)
    return digest.hexdigest()[:20]


def zip_digest(path: Path) -> str:
    """Return the digest of a layer .zip file: its bytes, so a rebuilt archive is a new version."""
    digest = hashlib.sha256(b"zip\0")
    with open(path, "rb") as file:
        while chunk := file.read(_READ_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()[:20]


# Layout and zip checks ---------------------------------------------------------------


def check_folder_layout(folder: Path) -> None:
    """Raise LayerContentError unless `folder` has a python/ folder."""
    if not (folder / PYTHON_DIR).is_dir():
        raise LayerContentError(f"has no python/ folder, expected {LAYOUT_RULE}")


def _quoted(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def _member_path(info: zipfile.ZipInfo) -> PurePosixPath:
    """Return a zip member's relative path, or raise LayerContentError for one that is unsafe to extract."""
    name = info.filename
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise LayerContentError(f"contains {_quoted(name)}, expected relative paths with / between folders")
    path = PurePosixPath(name)
    if ".." in path.parts:
        raise LayerContentError(f"contains {_quoted(name)}, which points outside the layer, expected paths inside it")
    if info.flag_bits & 0x1:
        raise LayerContentError(f"contains the encrypted file {_quoted(name)}, expected no encryption")

    # The upper 16 bits of external_attr hold the Unix mode, when the archive was made on Unix.
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise LayerContentError(f"contains the symbolic link {_quoted(name)}, expected regular files and folders only")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise LayerContentError(f"contains the special file {_quoted(name)}, expected regular files and folders only")
    return path


def check_zip(path: Path) -> list[zipfile.ZipInfo]:
    """Check a layer archive without extracting it, and return its members.

    Raises LayerContentError for a file that is not a zip archive, a member
    that would land outside the layer or is a link, an unzipped size over
    MAX_LAYER_BYTES, or an archive without a python/ folder.
    """
    if not zipfile.is_zipfile(path):
        raise LayerContentError("is not a zip archive, expected a .zip file or a folder")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise LayerContentError(f"cannot be read as a zip archive ({error}), expected a valid .zip file") from None

    total = 0
    has_python = False
    for info in members:
        member = _member_path(info)
        total += info.file_size
        if member.parts and member.parts[0] == PYTHON_DIR and (len(member.parts) > 1 or info.is_dir()):
            has_python = True
    if total > MAX_LAYER_BYTES:
        raise LayerContentError(f"unzips to {total} bytes, over Lambda's limit of {MAX_LAYER_BYTES}")
    if not has_python:
        raise LayerContentError(f"has no python/ folder, expected {LAYOUT_RULE}")
    return members


def extract_zip(path: Path, destination: Path) -> int:
    """Extract a checked layer archive into the new folder `destination`, and return the bytes written.

    Every member's path is checked again here, because the archive may have
    changed since it was read, and each target must stay inside `destination`.
    """
    members = check_zip(path)
    destination.mkdir(parents=True)
    root = destination.resolve()
    written = 0
    with zipfile.ZipFile(path) as archive:
        for info in members:
            target = root.joinpath(*_member_path(info).parts)
            if not target.resolve().is_relative_to(root):
                raise LayerContentError(f"contains {_quoted(info.filename)}, which points outside the layer")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(target, "wb") as sink:
                while chunk := source.read(_READ_CHUNK_BYTES):
                    written += len(chunk)
                    if written > MAX_LAYER_BYTES:
                        raise LayerContentError(f"unzips to more than Lambda's limit of {MAX_LAYER_BYTES} bytes")
                    sink.write(chunk)
            # Keep the executable bit of scripts; nothing else of the archived mode matters to imports.
            if (info.external_attr >> 16) & 0o111:
                target.chmod(0o755)
    return written


# Reading manifests -----------------------------------------------------------------


def check_layer(source: ManifestSource, key: KeyPath, name: str, path_value: Any) -> LayerSpec:
    """Check one declared layer, and return it with the digest of its content.

    `key` is the key path of the layer's path in the manifest, which every
    error names.
    """
    from squall.manifest.spec import LayerSpec
    from squall.manifest.validate import describe, expected

    if not isinstance(path_value, str) or not path_value.strip():
        raise source.error(key, expected(PATH_RULE, path_value))
    root = source.root.resolve()
    resolved = (root / path_value).resolve()
    if not resolved.is_relative_to(root):
        raise source.error(key, f"layer {describe(name)}: path {describe(path_value)} is outside the service folder {root}, expected {PATH_RULE}")
    if not resolved.exists():
        raise source.error(key, f"layer {describe(name)}: path {describe(path_value)} not found in {root}, expected {PATH_RULE}")
    if not (resolved.is_dir() or resolved.is_file()):
        raise source.error(key, f"layer {describe(name)}: path {describe(path_value)} is neither a folder nor a file, expected {PATH_RULE}")
    skipped = [part for part in resolved.relative_to(root).parts if part in EXCLUDED_DIRS]
    if skipped:
        raise source.error(
            key,
            f"layer {describe(name)}: path {describe(path_value)} is inside {skipped[0]}/, which a deploy does not copy, "
            f"expected {PATH_RULE}",
        )

    try:
        if resolved.is_dir():
            check_folder_layout(resolved)
            digest = folder_digest(resolved)
        else:
            check_zip(resolved)
            digest = zip_digest(resolved)
    except LayerContentError as problem:
        raise source.error(key, f"layer {describe(name)} at {describe(path_value)} {problem}") from None
    except OSError as error:
        raise source.error(key, f"layer {describe(name)} at {describe(path_value)} cannot be read: {error}") from None
    return LayerSpec(name=name, path=resolved.relative_to(root).as_posix(), digest=digest)


def check_function_layers(
    source: ManifestSource, key: KeyPath, names: Sequence[Any], declared: Mapping[str, LayerSpec]
) -> tuple[str, ...]:
    """Check a function's layer names against the declared layers, and return their versions in order.

    Errors name the entry's key path, such as `functions.greet.layers[1]`.
    """
    from squall.manifest.validate import describe

    if len(names) > MAX_LAYERS_PER_FUNCTION:
        raise source.error(key, f"{len(names)} layers, expected at most {MAX_LAYERS_PER_FUNCTION}, as Lambda allows")
    versions: list[str] = []
    for index, name in enumerate(names):
        layer = declared.get(name) if isinstance(name, str) else None
        if layer is None:
            valid = ", ".join(declared) if declared else "none are declared"
            raise source.error((*key, index), f"unknown layer {describe(name)}, expected one of the declared layers: {valid}")
        if layer.version in versions:
            raise source.error((*key, index), f"layer {describe(name)} is listed twice, expected each layer once")
        versions.append(layer.version)
    return tuple(versions)


def read_squall_layers(source: ManifestSource, settings: Mapping[str, Any] | None) -> dict[str, LayerSpec]:
    """Check squall.yml's schema-checked top-level `layers` mapping."""
    return {
        name: check_layer(source, ("layers", name, "path"), name, options["path"])
        for name, options in (settings or {}).items()
    }


# The keys of a serverless.yml layer that change nothing in Squall, accepted without a warning.
_SERVERLESS_LAYER_KEYS = frozenset(
    {"path", "package", "name", "description", "compatibleRuntimes", "compatibleArchitectures", "licenseInfo",
     "allowedAccounts", "retain"}
)


def serverless_layer_logical_id(name: str) -> str:
    """Return the CloudFormation logical id the Serverless Framework gives layer `name`: "common" -> "CommonLambdaLayer"."""
    normalised = name.replace("-", "Dash").replace("_", "Underscore")
    return normalised[:1].upper() + normalised[1:] + "LambdaLayer"


def read_serverless_layers(source: ManifestSource, section: Any, warnings: Any) -> dict[str, LayerSpec]:
    """Read serverless.yml's top-level `layers`: each a `path` folder or .zip, or a `package.artifact` .zip.

    `warnings` is the reader's `Warnings`, which gets the keys Squall ignores.
    """
    from squall.manifest.validate import describe, expected

    if section is None:
        return {}
    if not isinstance(section, dict):
        raise source.error(("layers",), expected("a mapping of layer names to {path: FOLDER}", section))
    layers: dict[str, LayerSpec] = {}
    for name, settings in section.items():
        key: KeyPath = ("layers", str(name))
        if not isinstance(name, str) or not re.match(LAYER_NAME_PATTERN, name):
            raise source.error(("layers",), expected(f"layer names of {LAYER_NAME_RULE}", name))
        if not isinstance(settings, dict):
            raise source.error(key, expected('a mapping with "path"', settings))
        warnings.unsupported_keys(key, settings, _SERVERLESS_LAYER_KEYS)

        artifact = settings.get("package", {}).get("artifact") if isinstance(settings.get("package"), dict) else None
        if artifact is not None:
            layers[name] = check_layer(source, (*key, "package", "artifact"), name, artifact)
        elif "path" in settings:
            layers[name] = check_layer(source, (*key, "path"), name, settings["path"])
        else:
            raise source.error((*key, "path"), f"missing for layer {describe(name)}, expected {PATH_RULE}")
    return layers


# The layer serverless-python-requirements makes of requirements.txt with `custom.pythonRequirements.layer`.
PYTHON_REQUIREMENTS_LAYER = "PythonRequirementsLambdaLayer"


def read_serverless_function_layers(
    source: ManifestSource,
    key: KeyPath,
    entries: Any,
    layers: Mapping[str, LayerSpec],
    warnings: Any,
    requirements_layer: bool = False,
) -> tuple[str, ...]:
    """Read a serverless.yml function's `layers`: `{Ref: NameLambdaLayer}` or ARNs, in order.

    An ARN names a layer of this service when its layer name is a declared
    layer's key. Any other ARN is a layer published on AWS, which
    Squall cannot fetch: it is listed as a warning and left out. With
    `requirements_layer`, `{Ref: PythonRequirementsLambdaLayer}` is left out
    silently: Squall installs the function's requirements.txt, which is what
    that plugin's layer holds.
    """
    from squall.manifest.serverless_common import CloudFormationTag
    from squall.manifest.validate import describe, expected

    if not isinstance(entries, list):
        raise source.error(key, expected("a list of layers such as {Ref: CommonLambdaLayer}", entries))
    by_logical_id = {serverless_layer_logical_id(name): name for name in layers}
    names: list[str] = []
    for index, entry in enumerate(entries):
        entry_key = (*key, index)
        if isinstance(entry, CloudFormationTag) and entry.tag == "Ref":
            entry = {"Ref": entry.value}
        if isinstance(entry, dict) and set(entry) == {"Ref"}:
            if entry["Ref"] == PYTHON_REQUIREMENTS_LAYER and requirements_layer:
                continue
            target = by_logical_id.get(entry["Ref"]) if isinstance(entry["Ref"], str) else None
            if target is None:
                valid = ", ".join(by_logical_id) or "no layers are declared under the top-level layers key"
                hint = ""
                if entry["Ref"] == PYTHON_REQUIREMENTS_LAYER:
                    hint = "; serverless-python-requirements makes it when custom.pythonRequirements.layer is set"
                raise source.error(entry_key, f"unknown layer {describe(entry['Ref'])}, expected one of: {valid}{hint}")
            names.append(target)
        elif isinstance(entry, str) and entry.startswith("arn:") and ":layer:" in entry:
            layer_name = entry.split(":layer:", 1)[1].split(":", 1)[0]
            target = layer_name if layer_name in layers else None
            if target is None:
                warnings.add(
                    entry_key,
                    f"layer {describe(entry)} is not declared in this service, and Squall cannot download layers "
                    "from AWS, ignored; declare it under the top-level layers key",
                )
                continue
            names.append(target)
        else:
            raise source.error(entry_key, expected("{Ref: NameLambdaLayer} or a layer ARN", entry))
    return check_function_layers(source, key, names, layers)


# Storing layers at deploy ---------------------------------------------------------------


def layers_dir(code_root: Path) -> Path:
    """Return `DATA/layers` for a code copy at `DATA/code/<digest>`."""
    return code_root.parent.parent / LAYERS_DIR


def bindings_path(code_root: Path) -> Path:
    # A code copy's digest covers its manifest and its layers' content, so it names their pairing.
    return layers_dir(code_root) / BINDINGS_DIR / f"{code_root.name}.json"


def store_layer(code_root: Path, layer: LayerSpec) -> LayerSpec:
    """Copy one layer of a code copy to `DATA/layers/<name>/<digest>` unless that version exists.

    The digest is computed again from the copy, which is what instances
    will use. Returns the layer with that digest.
    """
    source = code_root / layer.path
    try:
        if source.is_dir():
            check_folder_layout(source)
            digest = folder_digest(source)
        elif source.is_file():
            check_zip(source)
            digest = zip_digest(source)
        else:
            raise LayerContentError("is missing from the deployed copy; keep it out of the folders a deploy skips")
    except (LayerContentError, OSError) as problem:
        raise DeployError(f"layer {layer.name!r} at {layer.path}: {problem}") from None

    target = layers_dir(code_root) / layer.name / digest
    if target.is_dir():
        return dataclasses.replace(layer, digest=digest)

    # Fill a staging folder and rename it, so a version is whole or absent.
    staging = target.parent / f".{digest}.{uuid.uuid4().hex}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            for relative, path in code_files(source):
                destination = staging / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination)
        else:
            extract_zip(source, staging)
        compile_bytecode(staging)
        os.rename(staging, target)
    except (LayerContentError, OSError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        if target.is_dir():
            return dataclasses.replace(layer, digest=digest)  # another deploy stored the same version first
        raise DeployError(f"layer {layer.name!r} at {layer.path}: cannot store it in {target}: {error}") from None
    logger.info("stored layer %s version %s from %s in %s", layer.name, digest, layer.path, target)
    return dataclasses.replace(layer, digest=digest)


def store_service_layers(service: ServiceSpec) -> ServiceSpec:
    """Store every layer of a service and record which versions its functions use; return the updated spec.

    `service.root` must be the code copy under `DATA/code`. The returned spec
    carries the stored digests, in the layers and in each function's
    "name@digest" entries. Raises DeployError when a layer cannot be stored.
    """
    if not service.layers:
        return service
    stored = {layer.name: store_layer(service.root, layer) for layer in service.layers}

    functions = {}
    bindings: dict[str, list[str]] = {}
    for name, spec in service.functions.items():
        versions = tuple(stored[split_layer_version(version)[0]].version for version in spec.layers)
        functions[name] = dataclasses.replace(spec, layers=versions)
        if versions:
            bindings[name] = list(versions)
    _write_bindings(service.root, bindings)
    return dataclasses.replace(service, layers=tuple(stored.values()), functions=functions)


def check_function_sizes(service: ServiceSpec) -> None:
    """Raise DeployError when a function's code and layers pass Lambda's 250 MB unzipped, together.

    `service` is the stored spec that store_service_layers returns. The code
    counts without its layers' own folders or archives, which Lambda keeps
    apart from the code, and no count includes bytecode caches.
    """
    if not service.layers:
        return
    code_bytes = _content_bytes(service.root, tuple(layer.path for layer in service.layers))
    layer_bytes = {
        layer.version: _content_bytes(layers_dir(service.root) / layer.name / layer.digest) for layer in service.layers
    }
    for spec in service.functions.values():
        total = code_bytes + sum(layer_bytes.get(version, 0) for version in spec.layers)
        if total > MAX_LAYER_BYTES:
            sizes = ", ".join(f"{version.partition('@')[0]} {layer_bytes.get(version, 0)}" for version in spec.layers)
            raise DeployError(
                f"{service.function_key(spec.name, 'layers')}: the code ({code_bytes} bytes) and layers ({sizes} bytes) "
                f"of function {spec.name} add up to {total} bytes, over Lambda's limit of {MAX_LAYER_BYTES} bytes "
                "unzipped; move data out of the code or the layers"
            )


def _content_bytes(folder: Path, skipped: tuple[str, ...] = ()) -> int:
    """Return the bytes of the files under `folder`, without bytecode caches, Squall's .squall folder and `skipped` paths."""
    total = 0
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).as_posix()
        if "__pycache__" in path.parts or relative.split("/", 1)[0] == ".squall":
            continue
        if any(relative == skip or relative.startswith(f"{skip}/") for skip in skipped):
            continue
        if path.is_file():
            total += path.stat().st_size
    return total


def _write_bindings(code_root: Path, bindings: dict[str, list[str]]) -> None:
    path = bindings_path(code_root)
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging.write_text(json.dumps({"functions": bindings}, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(staging, path)
    except OSError as error:
        staging.unlink(missing_ok=True)
        raise DeployError(f"cannot record the layers of the functions in {path}: {error}") from None


# Import paths for a zygote ---------------------------------------------------------------


def function_layer_versions(code_root: Path, function: str) -> tuple[str, ...]:
    """Return the "name@digest" layer versions a deploy of this code copy recorded for `function`."""
    path = bindings_path(code_root)
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ()
    except (OSError, ValueError) as error:
        logger.warning("cannot read the layers of function %s from %s: %s", function, path, error)
        return ()
    versions = recorded.get("functions", {}).get(function, [])
    return tuple(version for version in versions if isinstance(version, str))


def layer_paths_for(code_root: Path, function: str) -> tuple[str, ...]:
    """Return the folders a function's instances import its layers from, highest precedence first.

    Lambda extracts the layers into /opt one after the other, so a file of a
    later layer replaces the same file of an earlier one, and it searches
    python/lib/python3.X/site-packages before python/. Here every
    site-packages folder comes before every python/ folder, and within each
    kind the last listed layer comes first.

    NOTE: a package split across two layers is merged into one folder by
    Lambda; here only the package of the layer that comes first is found,
    unless it is a namespace package (no __init__.py).
    """
    versions = function_layer_versions(code_root, function)
    site_packages: list[str] = []
    python_dirs: list[str] = []
    version_dir = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for version in reversed(versions):
        name, digest = split_layer_version(version)
        # Absolute, because the zygote changes its working folder to the code copy.
        folder = (layers_dir(code_root) / name / digest).absolute()
        if not folder.is_dir():
            logger.warning(
                "layer %s of function %s is missing from %s; deploy the service again to store it", version, function, folder
            )
            continue
        packages = folder / PYTHON_DIR / "lib" / version_dir / "site-packages"
        if packages.is_dir():
            site_packages.append(str(packages))
        python_dirs.append(str(folder / PYTHON_DIR))
    return (*site_packages, *python_dirs)
