"""Manifest loading: find a service's manifest and translate it to a ServiceSpec.

Three formats are read. `squall.yml` is Squall's own and is strict: an unknown
key is an error. `serverless.yml` is the Serverless Framework's and
`template.yaml` is an AWS SAM template. Both are read leniently: keys Squall
does not understand yet become `ServiceSpec.warnings`. Every problem is
raised as `squall.errors.ManifestError`.
"""

from __future__ import annotations

import dataclasses

import logging
from collections.abc import Mapping
from pathlib import Path

from squall.deploy.variables import DeployVariables, read_copy_variables
from squall.errors import ManifestError
from squall.manifest.sam import SAMCONFIG_ENVIRONMENT, SamLoader, parse_sam_template
from squall.manifest.serverless_yml import ServerlessLoader, parse_serverless_yml
from squall.manifest.spec import ServiceSpec
from squall.manifest.squall_yml import parse_squall_yml
from squall.manifest.validate import ManifestSource, StrictLoader, check_environment_size, read_yaml

__all__ = [
    "MANIFEST_NAMES",
    "SAM_MANIFEST_NAMES",
    "SERVERLESS_MANIFEST_NAMES",
    "SQUALL_MANIFEST_NAMES",
    "find_manifest",
    "load_manifest_file",
    "load_service",
]

logger = logging.getLogger(__name__)

SQUALL_MANIFEST_NAMES = ("squall.yml", "squall.yaml")
SERVERLESS_MANIFEST_NAMES = ("serverless.yml", "serverless.yaml")
SAM_MANIFEST_NAMES = ("template.yaml", "template.yml")
MANIFEST_NAMES = SQUALL_MANIFEST_NAMES + SERVERLESS_MANIFEST_NAMES + SAM_MANIFEST_NAMES

# Serverless Framework manifests in other languages, named in the "not found"
# message so that their owners know why the folder was not recognised.
_UNSUPPORTED_MANIFEST_NAMES = ("serverless.json", "serverless.js", "serverless.ts")


def find_manifest(folder: Path) -> Path:
    """Return the manifest file of a service folder: squall.yml, else serverless.yml, else template.yaml.

    Raises ManifestError when the folder does not exist, has no manifest, or
    has both spellings of one format (squall.yml and squall.yaml).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ManifestError(str(folder), "", "folder not found")

    for names in (SQUALL_MANIFEST_NAMES, SERVERLESS_MANIFEST_NAMES, SAM_MANIFEST_NAMES):
        present = [folder / name for name in names if (folder / name).is_file()]
        if len(present) > 1:
            raise ManifestError(
                str(folder), "", f"both {names[0]} and {names[1]} exist, expected only one of them"
            )
        if present:
            return present[0]

    message = "no manifest found, looked for " + ", ".join(MANIFEST_NAMES)
    unsupported = [name for name in _UNSUPPORTED_MANIFEST_NAMES if (folder / name).is_file()]
    if unsupported:
        message += f" ({unsupported[0]} is not supported, convert it to serverless.yml)"
    raise ManifestError(str(folder), "", message)


def load_service(
    folder: Path, parameters: Mapping[str, str] | None = None, variables: DeployVariables | None = None
) -> ServiceSpec:
    """Find the manifest in `folder` and translate it; see find_manifest for the search.

    `parameters` overrides the parameters of a SAM template, and `variables`
    the stage and environment of a serverless.yml; other formats ignore them.
    """
    path = find_manifest(folder)
    spec = load_manifest_file(path, parameters, variables=variables)
    ignored = [name for name in SERVERLESS_MANIFEST_NAMES + SAM_MANIFEST_NAMES
               if name != path.name and (path.parent / name).is_file()]
    if ignored:
        note = f"{', '.join(ignored)} in the same folder is ignored: {path.name} comes first"
        spec = dataclasses.replace(spec, warnings=(*spec.warnings, note))
    return spec


def load_manifest_file(
    path: Path,
    parameters: Mapping[str, str] | None = None,
    service_name: str | None = None,
    variables: DeployVariables | None = None,
) -> ServiceSpec:
    """Read one manifest file and translate it to a ServiceSpec.

    A file whose name starts with "serverless" is read as a Serverless
    Framework manifest, one whose name starts with "template" as an AWS SAM
    template, any other as squall.yml. Handler modules are looked up in the
    file's folder, which becomes `ServiceSpec.root`. `service_name` names a
    SAM template's service when its folder cannot, as with a code copy.
    Without `variables`, a code copy's own (see squall.deploy.variables) apply.
    """
    path = Path(path)
    absolute = path.resolve()
    source = ManifestSource(display=str(path), path=absolute, root=absolute.parent)
    if variables is None:
        try:
            variables = read_copy_variables(absolute)
        except (ValueError, OSError) as error:
            raise source.error((), f"cannot read the deploy variables kept beside it: {error}") from None

    if path.name.startswith("serverless"):
        options = variables.options() if variables is not None else None
        environ = variables.environment if variables is not None else None
        spec = parse_serverless_yml(read_yaml(source, ServerlessLoader), source, options, environ)
    elif path.name.startswith("template"):
        config_env = variables.config_env if variables is not None else None
        if variables is not None and variables.parameter_overrides:
            parameters = {**variables.parameter_overrides, **(parameters or {})}
        spec = parse_sam_template(
            read_yaml(source, SamLoader), source, parameters, service_name, config_env or SAMCONFIG_ENVIRONMENT
        )
    else:
        spec = parse_squall_yml(read_yaml(source, StrictLoader), source)
    _check_environment_sizes(source, spec, sam=path.name.startswith("template"))
    logger.debug(
        "loaded %s: service %r with %d functions and %d warnings",
        source.display,
        spec.service,
        len(spec.functions),
        len(spec.warnings),
    )
    return spec


def _check_environment_sizes(source: ManifestSource, spec: ServiceSpec, sam: bool) -> None:
    """Check each function's whole environment, Globals or provider variables included, against Lambda's quota."""
    for name, function in spec.functions.items():
        key = ("Resources", name, "Properties", "Environment", "Variables") if sam else ("functions", name, "environment")
        check_environment_size(source, key, dict(function.environment))
