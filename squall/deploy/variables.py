"""What the person deploying decides: a serverless.yml's stage and `${env:NAME}` values, a SAM samconfig environment.

The Serverless Framework reads `${opt:stage}` from `--stage` and `${env:NAME}`
from the environment of the machine that runs `sls deploy`. Squall's CLI
sends both with the deploy, so a server on another machine, or one started
in another shell, resolves the manifest as the deploying shell would.

A deploy keeps them in its code copy (`VARIABLES_FILE`, owner-only), so a
restart or a published version resolves the manifest the same way again.
They are part of the copy's digest: the same code deployed to another stage
is another copy. A SAM template's samconfig environment (`--config-env`)
and parameter values (`--parameter-overrides`) travel the same way.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Inside a code copy. A service folder's own `.squall` folder is never copied, so no user file has this path.
VARIABLES_FILE = ".squall/deploy-variables.json"
STAGE_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,64}$")
STAGE_RULE = "1 to 64 letters, digits or hyphens"
CONFIG_ENV_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CONFIG_ENV_RULE = "1 to 64 letters, digits, hyphens or underscores"
# CloudFormation's rule for a parameter's logical name.
PARAMETER_NAME_PATTERN = re.compile(r"^[A-Za-z0-9]{1,255}$")
PARAMETER_OVERRIDES_RULE = '"Name=Value" pairs separated by spaces, or "ParameterKey=Name,ParameterValue=Value"'
_ENV_REFERENCE = re.compile(r"\$\{\s*env:\s*([A-Za-z_][A-Za-z0-9_]*)")
# The path of a `${file(PATH)...}` variable, and how deep files that load files are followed.
_FILE_REFERENCE = re.compile(r"\$\{\s*file\(([^)]+)\)")
_MAX_FILE_DEPTH = 3
# A serverless.yml's top-level `useDotenv: true`.
_USE_DOTENV = re.compile(r"^useDotenv:\s*(true|True|TRUE)\s*(#.*)?$", re.MULTILINE)


class InvalidVariables(ValueError):
    """Raised when deploy variables are not a stage name and a mapping of strings.

    `option` names the command-line option the mistake came from.
    """

    def __init__(self, message: str, option: str = "--stage") -> None:
        super().__init__(message)
        self.option = option


def parse_parameter_overrides(value: str | list[str]) -> dict[str, str]:
    """Parse "Key=Value Other='two words'" or ["Key=Value", ...] as `sam deploy --parameter-overrides` does.

    Each item is `Name=Value` or the long form `ParameterKey=Name,ParameterValue=Value`.
    A later value of a name replaces an earlier one. Raise ValueError naming the bad item.
    """
    if isinstance(value, str):
        try:
            items = shlex.split(value)
        except ValueError as error:
            raise ValueError(f"{value!r} cannot be split into Name=Value pairs: {error}") from None
    else:
        items = list(value)
    overrides: dict[str, str] = {}
    for item in items:
        name, separator, text = item.partition("=")
        if name == "ParameterKey" and ",ParameterValue=" in text:
            name, _, text = text.partition(",ParameterValue=")
        if not separator or not name:
            raise ValueError(f"{item!r} is not a parameter value: expected {PARAMETER_OVERRIDES_RULE}")
        if not PARAMETER_NAME_PATTERN.match(name):
            raise ValueError(f"{name!r} is not a parameter name: expected letters and digits only, as in the template's Parameters")
        overrides[name] = text
    return overrides


@dataclass(frozen=True)
class DeployVariables:
    """The stage (None: the manifest's default), `${env:}` values (None: this process's environment), samconfig environment and SAM parameter values."""

    stage: str | None = None
    environment: Mapping[str, str] | None = field(default=None, hash=False)
    config_env: str | None = None  # the samconfig environment of a SAM template; None: "default"
    # SAM parameter values given on the command line; they win over samconfig's parameter_overrides.
    parameter_overrides: Mapping[str, str] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.stage is not None and not STAGE_PATTERN.match(self.stage):
            raise InvalidVariables(f"stage {self.stage!r} is invalid: expected {STAGE_RULE}")
        if self.config_env is not None and not CONFIG_ENV_PATTERN.match(self.config_env):
            raise InvalidVariables(
                f"config environment {self.config_env!r} is invalid: expected {CONFIG_ENV_RULE}", "--config-env"
            )
        if self.environment is not None and not all(
            isinstance(name, str) and isinstance(value, str) for name, value in self.environment.items()
        ):
            raise InvalidVariables("environment must map variable names to string values")
        if self.parameter_overrides is not None:
            for name, value in self.parameter_overrides.items():
                if not isinstance(name, str) or not PARAMETER_NAME_PATTERN.match(name) or not isinstance(value, str):
                    raise InvalidVariables(
                        f"parameter override {name!r}={value!r} is invalid: expected {PARAMETER_OVERRIDES_RULE}",
                        "--parameter-overrides",
                    )

    @property
    def empty(self) -> bool:
        return (self.stage is None and self.environment is None and self.config_env is None
                and self.parameter_overrides is None)

    def options(self) -> dict[str, str]:
        """Return the Framework's command-line options these stand for: `--stage`."""
        return {} if self.stage is None else {"stage": self.stage}

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.stage is not None:
            data["stage"] = self.stage
        if self.environment is not None:
            data["environment"] = dict(sorted(self.environment.items()))
        if self.config_env is not None:
            data["config_env"] = self.config_env
        if self.parameter_overrides is not None:
            data["parameter_overrides"] = dict(sorted(self.parameter_overrides.items()))
        return data

    @classmethod
    def from_json(cls, data: Any) -> DeployVariables:
        """Read what `to_json` wrote, or what a client sent. Raise InvalidVariables naming what is wrong."""
        if data is None:
            return cls()
        if not isinstance(data, dict) or not set(data) <= {"stage", "environment", "config_env", "parameter_overrides"}:
            raise InvalidVariables(
                'deploy variables must be {"stage": NAME, "environment": {...}, "config_env": NAME, '
                f'"parameter_overrides": {{...}}}}, got {data!r}'
            )
        stage = data.get("stage")
        environment = data.get("environment")
        config_env = data.get("config_env")
        overrides = data.get("parameter_overrides")
        if stage is not None and not isinstance(stage, str):
            raise InvalidVariables(f"stage must be a string, got {stage!r}")
        if environment is not None and not isinstance(environment, dict):
            raise InvalidVariables(f"environment must be a mapping, got {environment!r}")
        if config_env is not None and not isinstance(config_env, str):
            raise InvalidVariables(f"config_env must be a string, got {config_env!r}")
        if overrides is not None and not isinstance(overrides, dict):
            raise InvalidVariables(f"parameter_overrides must be a mapping, got {overrides!r}", "--parameter-overrides")
        return cls(stage, environment, config_env, overrides)

    def file_content(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, indent=2).encode() + b"\n"


def read_copy_variables(manifest: Path) -> DeployVariables | None:
    """Return the variables a code copy was deployed with, or None for a folder that has none."""
    path = manifest.parent / VARIABLES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return DeployVariables.from_json(json.loads(text))


def write_copy_variables(copy: Path, variables: DeployVariables) -> None:
    path = copy / VARIABLES_FILE
    path.parent.mkdir(exist_ok=True)
    # Environment values may be sensitive, so only the server's user reads them.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(variables.file_content())


def referenced_environment(manifest_text: str) -> list[str]:
    """Return the names of the `${env:NAME}` variables a manifest uses, sorted."""
    return sorted(set(_ENV_REFERENCE.findall(manifest_text)))


def deploying_shell_variables(
    manifest: Path,
    stage: str | None,
    environ: Mapping[str, str] | None = None,
    config_env: str | None = None,
    parameter_overrides: Mapping[str, str] | None = None,
) -> DeployVariables:
    """Return what a deploy from this shell sends: the stage, this shell's `${env:}` values, and a SAM template's settings.

    Only serverless.yml has `${env:}` variables and only a SAM template a
    samconfig environment and parameters; other manifests send the stage
    alone. A name the shell does not set is left out, so the manifest's
    default applies.
    """
    environ = os.environ if environ is None else environ
    if not manifest.name.startswith("template"):
        if config_env is not None:
            raise InvalidVariables(
                f"config environment {config_env!r} chooses a samconfig environment of a SAM template, "
                f"but the manifest is {manifest.name}; leave --config-env out",
                "--config-env",
            )
        if parameter_overrides:
            names = ", ".join(parameter_overrides)
            raise InvalidVariables(
                f"parameter overrides ({names}) set the Parameters of a SAM template, "
                f"but the manifest is {manifest.name}; leave --parameter-overrides out",
                "--parameter-overrides",
            )
    if manifest.name.startswith("template"):
        if stage is not None:
            raise InvalidVariables(
                f"stage {stage!r} is a serverless.yml setting, and a SAM template has none; "
                "choose a samconfig environment with --config-env instead"
            )
        return DeployVariables(config_env=config_env, parameter_overrides=dict(parameter_overrides or {}) or None)
    if not manifest.name.startswith("serverless"):
        if stage is not None:
            # A stage would change nothing but the code copy's digest, so a publish would make a needless version.
            raise InvalidVariables(
                f"stage {stage!r} is a serverless.yml setting, and {manifest.name} has none; leave --stage out"
            )
        return DeployVariables()
    text = manifest.read_text(encoding="utf-8", errors="replace")
    # Files that ${file(...)} loads are resolved with the manifest, so their ${env:} names count too.
    names = referenced_environment("\n".join([text, *_loaded_file_texts(manifest.parent, text)]))
    if not names:
        return DeployVariables(stage)
    # The shell's own values win over the file's, so a value set for one deploy overrides the file.
    values = {**dotenv_variables(manifest, text, stage), **environ}
    return DeployVariables(stage, {name: values[name] for name in names if name in values})


def _loaded_file_texts(folder: Path, text: str, depth: int = 0) -> list[str]:
    """Return the texts of the files that `${file(PATH)}` variables in `text` load, and of the files those load."""
    texts: list[str] = []
    for reference in _FILE_REFERENCE.findall(text):
        path = folder / reference.strip().strip("'\"")
        try:
            loaded = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        except OSError:
            loaded = ""
        if loaded:
            texts.append(loaded)
            if depth < _MAX_FILE_DEPTH:
                texts += _loaded_file_texts(path.parent, loaded, depth + 1)
    return texts


def dotenv_variables(manifest: Path, text: str, stage: str | None) -> dict[str, str]:
    """Return the variables of the .env file that a serverless.yml with `useDotenv: true` loads; none without it.

    As the Framework does, it reads `.env.STAGE` beside the manifest when that
    file exists, else `.env`, with `${NAME}` references expanded. The stage is
    `stage`, else the file's provider.stage, else "dev".
    """
    if not _USE_DOTENV.search(text):
        return {}
    from squall.manifest.serverless_variables import DEFAULT_STAGE

    stage = stage or _provider_stage(text) or DEFAULT_STAGE
    for path in (manifest.parent / f".env.{stage}", manifest.parent / ".env"):
        if path.is_file():
            from dotenv import dotenv_values

            return {name: value for name, value in dotenv_values(path).items() if value is not None}
    return {}


def _provider_stage(text: str) -> str | None:
    """Return the plain provider.stage of a serverless.yml's text, or None when it has none or it is a variable."""
    from squall.manifest.serverless_common import ServerlessLoader

    try:
        document = yaml.load(text, Loader=ServerlessLoader)
    except yaml.YAMLError:
        return None
    provider = document.get("provider") if isinstance(document, dict) else None
    stage = provider.get("stage") if isinstance(provider, dict) else None
    return stage if isinstance(stage, str) and stage and "${" not in stage else None
