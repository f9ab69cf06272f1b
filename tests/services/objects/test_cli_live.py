"""The `squall object` commands against a real server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from squall.cli import cli
from squall.cli_objects import group
from squall.sdk.client import Client
from squall.sdk.objects import Bucket, create_bucket
from tests.conftest import RunningServer, start_server

MANIFEST = """\
service: objects-cli
functions:
  hello:
    handler: handlers.hello
    events:
      - http: {method: GET, path: "/hello"}
"""

Runner = Callable[..., Result]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the module; every test works in buckets of its own."""
    folder = tmp_path_factory.mktemp("app")
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "handlers.py").write_text("def hello(event, context):\n    return 'hello'\n")
    running = start_server(folder, tmp_path_factory.mktemp("data"))
    yield running
    running.stop()


@pytest.fixture
def bucket(server: RunningServer) -> Bucket:
    return create_bucket(f"cli-{uuid.uuid4().hex[:12]}", Client(server.endpoint))


@pytest.fixture
def run(server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runner]:
    """Run `squall object ARGS` against the server, in an empty working folder."""
    monkeypatch.chdir(tmp_path)

    def _run(*args: str, stdin: bytes | None = None) -> Result:
        return CliRunner().invoke(
            group, [*args, "--endpoint", server.endpoint, "--data", str(tmp_path / "no-data")], input=stdin
        )

    yield _run


def test_make_bucket_then_list(run: Runner, server: RunningServer) -> None:
    name = f"mb-{uuid.uuid4().hex[:12]}"

    made = run("mb", name)
    listed = run("ls")

    assert made.exit_code == 0, made.output
    assert name in made.stdout
    assert listed.exit_code == 0
    assert name in listed.stdout
    assert Bucket(name, Client(server.endpoint)).info().name == name


def test_put_then_get_to_file(run: Runner, bucket: Bucket, tmp_path: Path) -> None:
    source = tmp_path / "report.csv"
    source.write_bytes(b"id,total\n1,20\n")

    put = run("put", str(source), f"{bucket.name}/reports/2024.csv")
    got = run("get", f"{bucket.name}/reports/2024.csv", "copy.csv")

    assert put.exit_code == 0, put.output
    assert json.loads(put.stdout)["key"] == "reports/2024.csv"
    assert bucket.head("reports/2024.csv").content_type == "text/csv"
    assert got.exit_code == 0, got.output
    assert (tmp_path / "copy.csv").read_bytes() == b"id,total\n1,20\n"


def test_get_default_file_name(run: Runner, bucket: Bucket, tmp_path: Path) -> None:
    bucket.put("deep/path/name.txt", b"default target")

    result = run("get", f"{bucket.name}/deep/path/name.txt")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "name.txt").read_bytes() == b"default target"


def test_get_into_folder_uses_key_name(run: Runner, bucket: Bucket, tmp_path: Path) -> None:
    bucket.put("deep/path/name.txt", b"into a folder")
    (tmp_path / "downloads").mkdir()

    result = run("get", f"{bucket.name}/deep/path/name.txt", "downloads")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "downloads" / "name.txt").read_bytes() == b"into a folder"


def test_put_key_ending_in_slash_appends_file_name(run: Runner, bucket: Bucket, tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(b"png")

    result = run("put", "photo.png", f"{bucket.name}/images/", "--content-type", "image/x-test")

    assert result.exit_code == 0, result.output
    assert bucket.head("images/photo.png").content_type == "image/x-test"


def test_stdin_to_stdout(run: Runner, bucket: Bucket) -> None:
    data = bytes(range(256)) * 10

    put = run("put", "-", f"{bucket.name}/piped.bin", stdin=data)
    got = run("get", f"{bucket.name}/piped.bin", "-")

    assert put.exit_code == 0, put.output
    assert got.exit_code == 0, got.output
    assert got.stdout_bytes == data


def test_stdout_closed_early_is_quiet(server: RunningServer, bucket: Bucket, tmp_path: Path) -> None:
    # Larger than a pipe's buffer, so that the download is still writing when the reader stops.
    bucket.put("big.bin", b"x" * (4 * 1024 * 1024))
    command = [sys.executable, "-m", "squall", "object", "get", f"{bucket.name}/big.bin", "-",
               "--endpoint", server.endpoint, "--data", str(tmp_path / "no-data")]

    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as reader:
        assert reader.stdout is not None and reader.stderr is not None
        first = reader.stdout.read(20)
        reader.stdout.close()
        errors = reader.stderr.read().decode()
        reader.wait(timeout=60)

    assert first == b"x" * 20
    assert "failed" not in errors
    assert "Traceback" not in errors


def test_ls_groups_prefixes(run: Runner, bucket: Bucket) -> None:
    for key in ["top.txt", "logs/a.log", "logs/b.log"]:
        bucket.put(key, b"x")

    grouped = run("ls", bucket.name)
    recursive = run("ls", f"{bucket.name}/logs/", "--recursive")

    assert grouped.exit_code == 0, grouped.output
    assert "logs/" in grouped.stdout
    assert "top.txt" in grouped.stdout
    assert "logs/a.log" not in grouped.stdout
    assert "logs/a.log" in recursive.stdout
    assert "logs/b.log" in recursive.stdout
    assert "top.txt" not in recursive.stdout


def test_ls_json_keeps_keys_and_sizes(run: Runner, bucket: Bucket) -> None:
    bucket.put("annual report.pdf", b"x" * 1024, content_type="application/pdf")
    bucket.put("logs/a.log", b"x")

    result = run("ls", bucket.name, "--output", "json")

    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["bucket"] == bucket.name
    assert [entry["key"] for entry in listing["objects"]] == ["annual report.pdf"]
    assert listing["objects"][0]["size"] == 1024
    assert listing["objects"][0]["content_type"] == "application/pdf"
    assert listing["common_prefixes"] == ["logs/"]


def test_ls_json_empty_bucket(run: Runner, bucket: Bucket) -> None:
    result = run("ls", bucket.name, "--output", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["objects"] == []


def test_ls_json_lists_buckets(run: Runner, bucket: Bucket) -> None:
    result = run("ls", "--output", "json")

    assert result.exit_code == 0, result.output
    assert bucket.name in [info["name"] for info in json.loads(result.stdout)["buckets"]]


def test_ls_empty_bucket(run: Runner, bucket: Bucket) -> None:
    result = run("ls", bucket.name)

    assert result.exit_code == 0
    assert f"bucket {bucket.name} is empty" in result.stdout


def test_copy_then_remove(run: Runner, bucket: Bucket) -> None:
    bucket.put("original", b"bytes to copy")

    copied = run("cp", f"{bucket.name}/original", f"{bucket.name}/copy")
    removed = run("rm", f"{bucket.name}/original")

    assert copied.exit_code == 0, copied.output
    assert removed.exit_code == 0, removed.output
    assert bucket.get("copy") == b"bytes to copy"
    assert [entry.key for entry in bucket.list()] == ["copy"]


def test_head_prints_json(run: Runner, bucket: Bucket) -> None:
    bucket.put("meta", b"x", metadata={"owner": "ana"})

    result = run("head", f"{bucket.name}/meta")
    with_option = run("head", f"{bucket.name}/meta", "--output", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metadata"] == {"owner": "ana"}
    assert with_option.exit_code == 0, with_option.output
    assert json.loads(with_option.stdout) == json.loads(result.stdout)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("get", "{bucket}/absent", "-"), "NoSuchKey: key 'absent'"),
        (("ls", "no-such-bucket-here"), "NoSuchBucket: bucket 'no-such-bucket-here'"),
        (("mb", "Bad_Name"), "InvalidBucketName: bucket name 'Bad_Name' is invalid"),
        (("cp", "{bucket}/absent", "{bucket}/copy"), "NoSuchKey"),
        (("rb", "{bucket}"), "BucketNotEmpty"),
    ],
    ids=["get", "ls", "mb", "cp", "rb"],
)
def test_errors_exit_1_on_stderr(run: Runner, bucket: Bucket, args: tuple[str, ...], expected: str) -> None:
    bucket.put("kept", b"x")

    result = run(*(arg.format(bucket=bucket.name) for arg in args))

    assert result.exit_code == 1
    assert expected in result.stderr
    assert result.stdout == ""


def test_object_path_without_key_rejected(run: Runner, bucket: Bucket) -> None:
    result = run("get", bucket.name)

    assert result.exit_code == 2
    assert "expected BUCKET/KEY" in result.stderr


def test_no_server_listening(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # Bound without listening, so the port is taken and refuses connections.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{unused.getsockname()[1]}"
        result = CliRunner().invoke(group, ["ls", "--endpoint", endpoint, "--data", str(tmp_path)])

    assert result.exit_code == 1
    assert f"no Squall server is listening at {endpoint}" in result.stderr


EXISTING_BUCKET_MANIFEST = """\
service: archive
provider: {name: aws, runtime: python3.12}
functions:
  archive:
    handler: handlers.hello
    events:
      - s3: {bucket: media-archive-dev, existing: true}
"""


def test_local_bucket_before_first_start(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "serverless.yml").write_text(EXISTING_BUCKET_MANIFEST)
    (folder / "handlers.py").write_text("def hello(event, context):\n    return 'hello'\n")
    data = tmp_path / "data"

    created = CliRunner().invoke(group, ["mb", "media-archive-dev", "--local", "--data", str(data)])
    running = start_server(folder, data)
    try:
        listed = CliRunner().invoke(group, ["ls", "--endpoint", running.endpoint, "--data", str(data)])
    finally:
        running.stop()

    assert created.exit_code == 0, created.output
    assert created.output.strip() == f"created bucket media-archive-dev in {data}"
    assert "media-archive-dev" in listed.output


def test_local_commands_rejected_while_server_runs(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "handlers.py").write_text("def hello(event, context):\n    return 'hello'\n")
    data = tmp_path / "data"
    running = start_server(folder, data)
    try:
        bucket = CliRunner().invoke(group, ["mb", "late-bucket", "--local", "--data", str(data)])
        secret = CliRunner().invoke(cli, ["secret", "set", "DB", "--local", "--data", str(data)], input="s3cret\n")
        listed = CliRunner().invoke(group, ["ls", "--endpoint", running.endpoint, "--data", str(data)])
    finally:
        running.stop()

    for rejected in (bucket, secret):
        assert rejected.exit_code == 1
        assert f"a Squall server (pid {running.process.pid}) runs on the data folder {data}" in rejected.output
        assert "leave out --local" in rejected.output
    assert "late-bucket" not in listed.output


def test_local_bucket_invalid_name_rejected(tmp_path: Path) -> None:
    data = tmp_path / "data"

    rejected = CliRunner().invoke(group, ["mb", "Bad_Name", "--local", "--data", str(data)])

    assert rejected.exit_code == 1
    assert "bucket name 'Bad_Name' is invalid" in rejected.output
    assert not data.exists()
