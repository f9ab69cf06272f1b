"""`squall plan` against a real server: the specification, and what a deploy would change."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from squall.cli import cli

FIRST = """service: shop
resources:
  queues:
    orders: {}
functions:
  api:
    handler: app.handler
    environment: {DB_PASSWORD: "${secret:db}"}
    events:
      - http: {method: GET, path: /items}
  worker:
    handler: app.handler
    events:
      - queue: {name: orders}
"""

SECOND = """service: shop
resources:
  queues:
    orders: {}
  buckets:
    uploads: {}
functions:
  api:
    handler: app.handler
    memory_mb: 256
    events:
      - http: {method: GET, path: /items}
  thumbnails:
    handler: app.handler
    events:
      - objects: {bucket: uploads}
"""


def write(folder: Path, manifest: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    (folder / "squall.yml").write_text(manifest)
    return folder


def test_plan_lists_changes(serve: Any, tmp_path: Path) -> None:
    app = write(tmp_path / "shop", FIRST.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))
    server = serve(app, "--no-watch")
    write(app, SECOND)

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", server.endpoint])

    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    # Only the manifest changed: the deploy keeps the code, and so does the plan.
    api_line = next(line for line in lines if line.startswith("change api"))
    assert api_line == "change api memory: 128 -> 256"
    assert "add thumbnails" in lines
    assert "remove worker" in lines
    assert "keep queue orders" in lines
    assert "create bucket uploads" in lines


def test_plan_keeps_manifest_only_edit(serve: Any, tmp_path: Path) -> None:
    app = write(tmp_path / "shop", FIRST.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))
    server = serve(app, "--no-watch")
    write(app, "# the shop's functions\n" + FIRST.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", server.endpoint])

    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    assert "keep api" in lines
    assert "keep worker" in lines


TWO_CODE_FOLDERS = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  First: {Type: AWS::Serverless::Function, Properties: {CodeUri: first/, Handler: app.handler, Runtime: python3.12}}
  Second: {Type: AWS::Serverless::Function, Properties: {CodeUri: second/, Handler: app.handler, Runtime: python3.12}}
"""


def test_plan_compares_each_code_folder(serve: Any, tmp_path: Path) -> None:
    app = tmp_path / "two"
    for name in ("first", "second"):
        (app / name).mkdir(parents=True)
        (app / name / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (app / "template.yaml").write_text(TWO_CODE_FOLDERS)
    server = serve(app, "--no-watch")
    (app / "second" / "app.py").write_text("def handler(event, context):\n    return 2\n")
    (app / "NOTES.md").write_text("beside the template, in no function's folder\n")

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", server.endpoint])

    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    assert "keep First" in lines
    assert any(line.startswith("change Second code:") for line in lines)


def unused_port() -> int:
    """Return a loopback port nothing listens on: one the kernel picked and this test released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("line", "message"),
    [("-r ../common/requirements.txt", "names a path outside the service folder"),
     ("-e ./lib", "asks for an editable install")],
)
def test_plan_rejects_bad_requirements(tmp_path: Path, line: str, message: str) -> None:
    app = write(tmp_path / "shop", FIRST)
    (app / "requirements.txt").write_text(line + "\n")

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", f"http://127.0.0.1:{unused_port()}"])

    assert result.exit_code == 1
    assert message in result.output


def test_plan_names_included_requirements_file(tmp_path: Path) -> None:
    app = write(tmp_path / "shop", FIRST)
    (app / "requirements.txt").write_text("-r other.txt\n")
    (app / "other.txt").write_text("-e ./lib\n")

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", f"http://127.0.0.1:{unused_port()}"])

    assert result.exit_code == 1
    assert f"{app / 'other.txt'}: '-e ./lib' asks for an editable install" in " ".join(result.output.split())


def test_plan_without_server_shows_spec(tmp_path: Path) -> None:
    app = write(tmp_path / "shop", FIRST)

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", f"http://127.0.0.1:{unused_port()}"])

    assert result.exit_code == 0, result.output
    assert "service shop (squall.yml): 2 function(s)" in result.output
    assert "DB_PASSWORD" in result.output
    assert "secret" not in result.output
    assert "no comparison with a running server" in result.output


def test_plan_shows_other_settings(tmp_path: Path) -> None:
    app = write(
        tmp_path / "shop",
        "service: shop\n"
        "functions:\n"
        "  worker:\n"
        "    handler: app.handler\n"
        "    keep_alive_s: 60\n"
        "    max_retry_attempts: 0\n"
        "    on_failure: {function: audit}\n"
        "  audit: {handler: app.handler}\n",
    )

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", f"http://127.0.0.1:{unused_port()}"])

    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    worker = lines.index(next(line for line in lines if line.startswith("worker ")))
    # The OTHER column lists one setting per line, so the worker's settings fill the lines below its row.
    other_column = " ".join(lines[worker : worker + 3])
    assert "keep_alive_s: 60" in other_column
    assert "max_retry_attempts: 0" in other_column
    assert "on_failure: function audit" in other_column


def test_plan_refuses_a_route_under_squall_paths(tmp_path: Path) -> None:
    app = write(tmp_path / "shop", FIRST.replace("path: /items", "path: /ui/items"))

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", f"http://127.0.0.1:{unused_port()}"])

    assert result.exit_code == 1
    assert "squall.yml: function 'api': http route '/ui/items'" in result.output
    assert "the function would never be called" in result.output


def test_plan_refuses_a_queue_shorter_than_its_function(tmp_path: Path) -> None:
    manifest = (
        "service: shop\n"
        "resources: {queues: {jobs: {visibility_timeout_s: 20}}}\n"
        "functions:\n"
        "  worker: {handler: app.greet, timeout_s: 30, events: [{queue: {name: jobs}}]}\n"
    )
    app = write(tmp_path / "shop", manifest)

    # A deploy would fail on this, so plan reports it without a server.
    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", f"http://127.0.0.1:{unused_port()}"])

    assert result.exit_code == 1
    assert "queue 'jobs' has a visibility timeout of 20 s, less than the function's timeout of 30 s" in result.output


def test_plan_sees_code_environment_and_secrets(serve: Any, tmp_path: Path) -> None:
    app = write(tmp_path / "shop", FIRST.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))
    server = serve(app, "--no-watch")
    (app / "app.py").write_text("def handler(event, context):\n    return 'changed'\n")
    write(app, FIRST).joinpath("app.py").write_text("def handler(event, context):\n    return 'changed'\n")

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", server.endpoint])

    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    api_line = next(line for line in lines if line.startswith("change api"))
    assert "code:" in api_line
    assert "environment: DB_PASSWORD added" in api_line
    assert any(line.startswith("change worker code:") for line in lines)
    assert any(line.startswith("missing secret db") for line in lines)


def test_plan_flags_trigger_on_missing_resource(serve: Any, tmp_path: Path) -> None:
    app = write(tmp_path / "shop", FIRST.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))
    server = serve(app, "--no-watch")
    extra = "      - queue: {name: nosuchqueue}\n      - objects: {bucket: nosuchbucket}\n"
    write(app, FIRST.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', "") + extra)

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", server.endpoint])

    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    assert any(line.startswith("missing bucket nosuchbucket the deploy would fail: used by worker;") for line in lines)
    assert any(line.startswith("missing queue nosuchqueue the deploy would fail: used by worker;") for line in lines)
    # The declared queue is kept, not missing.
    assert any(line.startswith("keep queue orders") for line in lines)


def test_plan_flags_foreign_function(serve: Any, tmp_path: Path) -> None:
    app = write(tmp_path / "shop", FIRST.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))
    server = serve(app, "--no-watch")
    renamed = write(tmp_path / "store", FIRST.replace("service: shop", "service: store").replace(
        '    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))

    plan = CliRunner().invoke(cli, ["plan", str(renamed), "--endpoint", server.endpoint])
    deploy = CliRunner().invoke(cli, ["deploy", str(renamed), "--endpoint", server.endpoint])

    assert plan.exit_code == 0, plan.output
    assert "conflict" in plan.output
    assert "already deployed by service 'shop'" in plan.output
    assert deploy.exit_code == 1
    assert "function 'api' of service 'store' is already deployed by service 'shop'" in deploy.output


def test_route_clash_names_service(serve: Any, tmp_path: Path) -> None:
    app = write(tmp_path / "shop", FIRST.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))
    server = serve(app, "--no-watch")
    other = write(tmp_path / "other", "service: other\nfunctions:\n  listing:\n    handler: app.handler\n"
                  "    events:\n      - http: {method: GET, path: /items}\n")

    plan = CliRunner().invoke(cli, ["plan", str(other), "--endpoint", server.endpoint])
    deploy = CliRunner().invoke(cli, ["deploy", str(other), "--endpoint", server.endpoint])

    assert deploy.exit_code == 1
    assert "clashes with the route GET /items of function 'api'" in deploy.output
    assert "which service 'shop' deployed" in deploy.output
    # What the deploy rejects, the plan calls a conflict.
    assert plan.exit_code == 0, plan.output
    conflicts = [line for line in plan.output.splitlines() if line.startswith("conflict")]
    assert len(conflicts) == 1, plan.output
    assert "route /items of listing" in conflicts[0]


def test_plan_flags_table_and_stream_that_cannot_change(serve: Any, tmp_path: Path) -> None:
    declared = FIRST.replace(
        "    orders: {}\n", "    orders: {}\n  tables:\n    users: {partition_key: id}\n  streams:\n    clicks: {shards: 1}\n"
    )
    app = write(tmp_path / "shop", declared.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))
    server = serve(app, "--no-watch")
    changed = declared.replace("partition_key: id}", "partition_key: {name: id, type: N}}").replace("shards: 1", "shards: 2")
    write(app, changed.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))

    plan = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", server.endpoint])
    deploy = CliRunner().invoke(cli, ["deploy", str(app), "--endpoint", server.endpoint])

    assert plan.exit_code == 0, plan.output
    lines = [" ".join(line.split()) for line in plan.output.splitlines()]
    assert any(line.startswith("conflict table users exists with partition key id:S") for line in lines), lines
    assert any(line.startswith("conflict stream clicks exists with 1 shard(s)") for line in lines), lines
    # What plan calls a conflict, the deploy rejects.
    assert deploy.exit_code == 1
    assert "table 'users' exists with partition key" in deploy.output


def test_plan_shows_queue_setting_changes(serve: Any, tmp_path: Path) -> None:
    app = write(tmp_path / "shop", FIRST.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))
    server = serve(app, "--no-watch")
    changed = FIRST.replace("    orders: {}\n", "    orders: {visibility_timeout_s: 45}\n")
    write(app, changed.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))

    plan = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", server.endpoint])

    assert plan.exit_code == 0, plan.output
    lines = [" ".join(line.split()) for line in plan.output.splitlines()]
    assert "change queue orders visibility_timeout_s: 30 -> 45" in lines, lines


def test_plan_shows_table_stream_change(serve: Any, tmp_path: Path) -> None:
    declared = FIRST.replace(
        "    orders: {}\n", "    orders: {}\n  tables:\n    users: {partition_key: id, stream_view_type: KEYS_ONLY}\n"
    ).replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', "")
    app = write(tmp_path / "shop", declared)
    server = serve(app, "--no-watch")
    write(app, declared.replace("KEYS_ONLY", "NEW_IMAGE"))

    plan = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", server.endpoint])

    assert plan.exit_code == 0, plan.output
    lines = [" ".join(line.split()) for line in plan.output.splitlines()]
    assert "change table users stream: KEYS_ONLY -> NEW_IMAGE" in lines, lines


SAM_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Size: {Type: Number, Default: 128}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      MemorySize: !Ref Size
"""

SAMCONFIG = """\
version = 0.1
[default.deploy.parameters]
parameter_overrides = "Size=256"
[prod.deploy.parameters]
parameter_overrides = "Size=512"
"""


def test_plan_reads_the_chosen_samconfig_environment(tmp_path: Path) -> None:
    app = tmp_path / "sam"
    app.mkdir()
    (app / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    (app / "template.yaml").write_text(SAM_TEMPLATE)
    (app / "samconfig.toml").write_text(SAMCONFIG)
    endpoint = f"http://127.0.0.1:{unused_port()}"

    default = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", endpoint])
    prod = CliRunner().invoke(cli, ["plan", str(app), "--config-env", "prod", "--endpoint", endpoint])
    missing = CliRunner().invoke(cli, ["plan", str(app), "--config-env", "staging", "--endpoint", endpoint])

    assert "256 MB" in default.output, default.output
    assert "512 MB" in prod.output, prod.output
    assert missing.exit_code != 0
    assert "no config environment" in missing.output
    assert "expected one of: default, prod" in missing.output


def test_plan_warns_of_code_that_does_not_compile(tmp_path: Path) -> None:
    app = write(tmp_path / "shop", FIRST.replace('    environment: {DB_PASSWORD: "${secret:db}"}\n', ""))
    (app / "app.py").write_text("def handler(event, context:\n    return 'ok'\n")

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", f"http://127.0.0.1:{unused_port()}"])

    assert "app.py does not compile" in result.output
    assert "Runtime.UserCodeSyntaxError" in result.output


def test_plan_region_matches_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SQUALL_REGION", raising=False)
    app = tmp_path / "regional"
    app.mkdir()
    (app / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    (app / "serverless.yml").write_text(
        "service: regional\nprovider:\n  name: aws\n  region: eu-west-1\nfunctions:\n  a:\n    handler: app.handler\n"
    )
    endpoint = f"http://127.0.0.1:{unused_port()}"

    default = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", endpoint])
    matching = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", endpoint, "--region", "eu-west-1"])

    assert default.exit_code == 0, default.output
    assert "squall up --region eu-west-1" in default.output
    assert matching.exit_code == 0, matching.output
    assert "provider.region" not in matching.output


def test_plan_takes_running_servers_region(serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SQUALL_REGION", raising=False)
    app = tmp_path / "regional"
    app.mkdir()
    (app / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    (app / "serverless.yml").write_text(
        "service: regional\nprovider:\n  name: aws\n  region: eu-west-1\n  environment:\n    REG: ${aws:region}\n"
        "functions:\n  a:\n    handler: app.handler\n"
    )
    server = serve(app, "--no-watch", "--region", "eu-west-1")

    result = CliRunner().invoke(cli, ["plan", str(app), "--endpoint", server.endpoint])

    assert result.exit_code == 0, result.output
    assert "provider.region" not in result.output
    assert "REG changed" not in result.output
