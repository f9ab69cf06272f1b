"""The deploying shell's stage and ${env:} values: what the CLI sends, what a code copy keeps, what a restart reads."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from squall.deploy.snapshot import code_digest, snapshot
from squall.deploy.variables import (
    VARIABLES_FILE,
    DeployVariables,
    InvalidVariables,
    deploying_shell_variables,
    referenced_environment,
)
from squall.manifest import load_manifest_file

SERVERLESS = """\
service: greeter
provider:
  name: aws
  runtime: python3.12
  stage: ${opt:stage, 'dev'}
  environment:
    GREETING: ${env:GREETING, 'hello from the default'}
    STAGE: ${sls:stage}
functions:
  greet:
    handler: handler.greet
    events:
      - httpApi: GET /greet
      - http: {path: rest/greet, method: get}
"""

HANDLER = """\
import os

def greet(event, context):
    return {"statusCode": 200, "body": os.environ["GREETING"] + " / " + os.environ["STAGE"]
            + " / " + str((event.get("requestContext") or {}).get("stage"))}
"""


def write_app(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "serverless.yml").write_text(SERVERLESS)
    (folder / "handler.py").write_text(HANDLER)
    return folder


def test_referenced_names_found_in_text() -> None:
    text = "a: ${env:ONE}\nb: ${env: TWO, 'x'}\nc: ${self:custom.ONE}\nd: ${env:ONE}"

    assert referenced_environment(text) == ["ONE", "TWO"]


def test_shell_sends_only_referenced_names(tmp_path: Path) -> None:
    manifest = write_app(tmp_path / "app") / "serverless.yml"

    variables = deploying_shell_variables(manifest, "prod", {"GREETING": "hi", "HOME": "/root"})
    unset = deploying_shell_variables(manifest, None, {})

    assert variables.to_json() == {"stage": "prod", "environment": {"GREETING": "hi"}}
    assert unset.to_json() == {"environment": {}}


def test_sam_template_sends_config_env(tmp_path: Path) -> None:
    manifest = tmp_path / "template.yaml"
    manifest.write_text("Resources: {}\n")

    variables = deploying_shell_variables(manifest, None, {}, config_env="prod")

    assert variables.to_json() == {"config_env": "prod"}
    assert DeployVariables.from_json(variables.to_json()) == variables


def test_options_of_another_format_are_rejected(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources: {}\n")
    squall_yml = tmp_path / "squall.yml"
    squall_yml.write_text("service: s\n")

    with pytest.raises(InvalidVariables, match="a SAM template has none; choose a samconfig environment"):
        deploying_shell_variables(template, "prod", {})
    with pytest.raises(InvalidVariables, match="the manifest is squall.yml; leave --config-env out"):
        deploying_shell_variables(squall_yml, None, {}, config_env="prod")


@pytest.mark.parametrize(
    "sent",
    [{"stage": "prod/eu"}, {"stage": 3}, {"environment": {"A": 1}}, {"region": "x"}, [], {"config_env": "a b"},
     {"config_env": 1}],
)
def test_invalid_variables_named(sent: Any) -> None:
    with pytest.raises(InvalidVariables):
        DeployVariables.from_json(sent)


def test_copy_keeps_variables_in_digest(tmp_path: Path) -> None:
    folder = write_app(tmp_path / "app")
    prod = DeployVariables("prod", {"GREETING": "hi"})

    copy = snapshot(folder, tmp_path / "code", variables=prod)
    plain = snapshot(folder, tmp_path / "code")
    loaded = load_manifest_file(copy / "serverless.yml")

    assert copy.name == code_digest(folder, prod)
    assert plain.name == code_digest(folder)
    assert copy.name != plain.name
    assert stat.S_IMODE((copy / VARIABLES_FILE).stat().st_mode) == 0o600
    assert loaded.functions["greet"].environment == {"GREETING": "hi", "STAGE": "prod"}
    assert loaded.functions["greet"].http[1].stage == "prod"


def deploy(folder: Path, endpoint: str, *extra: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(folder), "--endpoint", endpoint, *extra],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )


def test_shell_variables_survive_restart(serve: Any, tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "squall.yml").write_text("service: base\nfunctions:\n  ping:\n    handler: app.ping\n")
    (base / "app.py").write_text("def ping(event, context):\n    return 'pong'\n")
    data = tmp_path / "data"
    server = serve(base, "--no-watch", data=data, env={"GREETING": "from the server"})
    app = write_app(tmp_path / "app")

    deployed = deploy(app, server.endpoint, "--stage", "prod", env={"GREETING": "from the shell"})
    http_api = httpx.get(server.endpoint + "/greet", timeout=20).text
    rest = httpx.get(server.endpoint + "/rest/greet", timeout=20).text
    staged = httpx.get(server.endpoint + "/prod/rest/greet", timeout=20).text
    other_stage = httpx.get(server.endpoint + "/dev/rest/greet", timeout=20).status_code
    server.stop()
    restarted = serve(base, "--no-watch", data=data, env={"GREETING": "from the server"})
    after_restart = httpx.get(restarted.endpoint + "/rest/greet", timeout=20).text

    assert deployed.returncode == 0, deployed.stderr
    assert http_api == "from the shell / prod / $default"
    assert rest == "from the shell / prod / prod"
    assert staged == "from the shell / prod / prod"
    assert after_restart == "from the shell / prod / prod"
    # The HTTP API's "Not Found", because the stage in the path must be the route's own.
    assert other_stage == 404


def test_bad_stage_rejected_before_deploy(serve: Any, tmp_path: Path) -> None:
    app = write_app(tmp_path / "app")
    server = serve(app, "--no-watch")

    result = deploy(app, server.endpoint, "--stage", "prod/eu", env={})

    assert result.returncode == 2
    assert "'prod/eu'" in result.stderr
    assert "letters, digits or hyphens" in result.stderr
