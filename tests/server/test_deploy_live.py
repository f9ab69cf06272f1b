"""Deploys seen from outside: frozen code, restarts, and service names."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

# Function names are unique on a server, as in one AWS region, so each
# service names its function after its route.
SERVICE = """service: {name}
functions:
  {route}:
    handler: app.version
    events:
      - http: {{method: GET, path: /{route}}}
"""


def write_service(folder: Path, name: str, route: str, answer: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "squall.yml").write_text(SERVICE.format(name=name, route=route))
    (folder / "app.py").write_text(f"def version(event, context):\n    return {answer!r}\n")
    return folder


def deploy(endpoint: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(folder), "--endpoint", endpoint],
        capture_output=True,
        text=True,
        timeout=60,
    )


def start_up(folder: Path, data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run `squall up FOLDER` on `data` with EXTRA options, for a start that is expected to end with an error."""
    command = [sys.executable, "-m", "squall", "up", str(folder), "--port", "0", "--no-watch", "--data", str(data), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_edit_without_deploy_not_served(serve: Any, tmp_path: Path) -> None:
    main = write_service(tmp_path / "main", "main", "main", "v1")
    server = serve(main, "--no-watch")
    assert httpx.get(server.endpoint + "/main", timeout=20).json() == "v1"

    (main / "app.py").write_text("def version(event, context):\n    return 'edited'\n")
    # Several concurrent calls start new instances; all must run the deployed code.
    with httpx.Client(timeout=20) as client:
        answers = {client.get(server.endpoint + "/main").json() for _ in range(5)}

    assert answers == {"v1"}


def test_deployed_services_survive_restart(serve: Any, tmp_path: Path) -> None:
    main = write_service(tmp_path / "main", "main", "main", "main-v1")
    extra = write_service(tmp_path / "extra", "extra", "extra", "extra-v1")
    first = serve(main)
    assert deploy(first.endpoint, extra).returncode == 0
    assert first.stop() == 0

    second = serve(main, data=first.data)

    assert httpx.get(second.endpoint + "/extra", timeout=20).json() == "extra-v1"
    assert httpx.get(second.endpoint + "/main", timeout=20).json() == "main-v1"


def test_service_name_taken_by_other_folder(serve: Any, tmp_path: Path) -> None:
    main = write_service(tmp_path / "main", "shared-name", "main", "first")
    other = write_service(tmp_path / "other", "shared-name", "other", "second")
    server = serve(main)

    result = deploy(server.endpoint, other)

    assert result.returncode == 1
    assert "already deployed from" in result.stderr
    assert str(main) in result.stderr
    assert httpx.get(server.endpoint + "/main", timeout=20).json() == "first"


def test_restore_uses_deployed_copy(serve: Any, tmp_path: Path) -> None:
    main = write_service(tmp_path / "main", "main", "main", "main-v1")
    edited = write_service(tmp_path / "edited", "edited", "edited", "edited-v1")
    gone = write_service(tmp_path / "gone", "gone", "gone", "gone-v1")
    first = serve(main)
    assert deploy(first.endpoint, edited).returncode == 0
    assert deploy(first.endpoint, gone).returncode == 0
    assert first.stop() == 0
    # Neither an edit that was never deployed nor a vanished folder changes what a restart serves.
    (edited / "app.py").write_text("def version(event, context):\n    return 'never deployed'\n")
    (edited / "squall.yml").write_text("service: edited\nfunctions:\n  broken: [\n")
    shutil.rmtree(gone)

    second = serve(main, data=first.data)

    assert any("serving main (1 function) and 2 restored services (2 functions)" in line for line in second.output)
    assert httpx.get(second.endpoint + "/main", timeout=20).json() == "main-v1"
    assert httpx.get(second.endpoint + "/edited", timeout=20).json() == "edited-v1"
    assert httpx.get(second.endpoint + "/gone", timeout=20).json() == "gone-v1"


def test_removed_service_stays_removed(serve: Any, tmp_path: Path) -> None:
    main = write_service(tmp_path / "main", "main", "main", "main-v1")
    extra = write_service(tmp_path / "extra", "extra", "extra", "extra-v1")
    first = serve(main)
    assert deploy(first.endpoint, extra).returncode == 0

    removed = subprocess.run(
        [sys.executable, "-m", "squall", "remove", "extra", "--endpoint", first.endpoint],
        capture_output=True, text=True, timeout=60,
    )
    missing = subprocess.run(
        [sys.executable, "-m", "squall", "remove", "nothing", "--endpoint", first.endpoint],
        capture_output=True, text=True, timeout=60,
    )

    assert removed.returncode == 0, removed.stderr
    assert "removed service extra" in removed.stdout
    assert httpx.get(first.endpoint + "/extra", timeout=20).status_code == 404
    assert httpx.get(first.endpoint + "/main", timeout=20).json() == "main-v1"
    assert missing.returncode == 1
    assert "'nothing' is not deployed" in missing.stderr
    assert first.stop() == 0
    second = serve(main, data=first.data)
    assert httpx.get(second.endpoint + "/extra", timeout=20).status_code == 404


def test_upload_deploy_and_restore(serve: Any, tmp_path: Path) -> None:
    main = write_service(tmp_path / "main", "main", "main", "main-v1")
    remote = write_service(tmp_path / "remote", "remote", "remote", "remote-v1")
    (remote / "pkg").mkdir()
    (remote / "pkg" / "__init__.py").write_text("")
    (remote / "pkg" / "helper.py").write_text("VALUE = 'from a subpackage'\n")
    first = serve(main)

    uploaded = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(remote), "--upload", "--endpoint", first.endpoint],
        capture_output=True, text=True, timeout=60,
    )
    shutil.rmtree(remote)  # the server keeps its own copy of the files

    assert uploaded.returncode == 0, uploaded.stderr
    assert "uploading" in uploaded.stderr
    assert httpx.get(first.endpoint + "/remote", timeout=20).json() == "remote-v1"
    assert (first.data / "uploads" / "remote" / "pkg" / "helper.py").is_file()
    assert first.stop() == 0
    second = serve(main, data=first.data)
    assert httpx.get(second.endpoint + "/remote", timeout=20).json() == "remote-v1"


def test_upload_of_folder_deployed_service_is_explained(serve: Any, tmp_path: Path) -> None:
    main = write_service(tmp_path / "main", "main", "main", "main-v1")
    server = serve(main)

    uploaded = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(main), "--upload", "--endpoint", server.endpoint],
        capture_output=True, text=True, timeout=60,
    )

    # The service runs from its folder on the server, which an upload does not replace.
    assert uploaded.returncode == 1
    assert f"service 'main' is deployed from the folder {main.resolve()} on the server" in uploaded.stderr
    assert "deploy without --upload" in uploaded.stderr
    assert httpx.get(server.endpoint + "/main", timeout=20).json() == "main-v1"


def test_upload_of_broken_manifest_keeps_version(serve: Any, tmp_path: Path) -> None:
    main = write_service(tmp_path / "main", "main", "main", "main-v1")
    remote = write_service(tmp_path / "remote", "remote", "remote", "remote-v1")
    server = serve(main)
    command = [sys.executable, "-m", "squall", "deploy", str(remote), "--upload", "--endpoint", server.endpoint]
    assert subprocess.run(command, capture_output=True, text=True, timeout=60).returncode == 0

    (remote / "squall.yml").write_text("service: remote\nfunctions:\n  remote:\n    handler: app.version\n    timeout_s: fast\n")
    failed = subprocess.run(command, capture_output=True, text=True, timeout=60)

    assert failed.returncode == 1
    assert "timeout_s" in failed.stderr
    assert httpx.get(server.endpoint + "/remote", timeout=20).json() == "remote-v1"
    assert not any(path.name.startswith(".staging") for path in (server.data / "uploads").iterdir())


def test_unchanged_redeploy_keeps_instances(serve: Any, tmp_path: Path) -> None:
    main = write_service(tmp_path / "main", "main", "main", "main-v1")
    extra = write_service(tmp_path / "extra", "extra", "extra", "extra-v1")
    server = serve(main, "--no-watch")
    assert deploy(server.endpoint, extra).returncode == 0
    assert httpx.get(server.endpoint + "/extra", timeout=20).json() == "extra-v1"

    again = deploy(server.endpoint, extra)
    idle = {f["name"]: f["instances"]["idle"] for f in httpx.get(server.endpoint + "/_squall/api/functions", timeout=20).json()["functions"]}

    assert again.returncode == 0, again.stderr
    assert idle["extra"] == 1


def test_function_larger_than_budget_is_warned(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "squall.yml").write_text("service: huge\nfunctions:\n  huge:\n    handler: app.handler\n    memory_mb: 1024\n")
    (folder / "app.py").write_text("def handler(event, context):\n    return 1\n")

    server = serve(folder, "--memory-budget-mb", "512")

    assert any(
        "functions.huge.memory_mb: 1024 MB is more than the node's whole memory budget (512 MB)" in line
        for line in server.output
    )


def test_provisioned_beyond_budget_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "squall.yml").write_text(
        "service: warm\nfunctions:\n  warm:\n    handler: app.handler\n    memory_mb: 256\n    provisioned: 3\n"
    )
    (folder / "app.py").write_text("def handler(event, context):\n    return 1\n")
    result = start_up(folder, tmp_path / "data", "--memory-budget-mb", "512")

    assert result.returncode == 2
    assert ("provisioned instances need 768 MB of the node's memory budget (512 MB); "
            "start the server with --memory-budget-mb 1024 or more, or lower provisioned") in result.stderr
    assert "Traceback" not in result.stderr


def test_provisioned_leaving_no_room_rejected(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    manifest = folder / "squall.yml"
    manifest.write_text(
        "service: warm\nfunctions:\n  warm:\n    handler: app.handler\n    provisioned: 2\n"
        "  plain:\n    handler: app.handler\n    memory_mb: 512\n    events:\n      - http: {method: GET, path: /plain}\n"
    )
    (folder / "app.py").write_text("def handler(event, context):\n    return 1\n")
    server = serve(folder, "--no-watch", "--memory-budget-mb", "768")
    assert httpx.get(server.endpoint + "/plain", timeout=20).status_code == 200

    manifest.write_text(manifest.read_text().replace("provisioned: 2", "provisioned: 3"))
    result = deploy(server.endpoint, folder)

    assert result.returncode == 1
    assert ("provisioned instances need 384 MB of the node's memory budget (768 MB), which leaves 384 MB for the "
            "512 MB an instance of plain needs on demand; start the server with --memory-budget-mb 896 or more"
            ) in result.stderr
    # The deployed version keeps serving.
    assert httpx.get(server.endpoint + "/plain", timeout=20).status_code == 200


def test_provisioned_init_failure_warned(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "squall.yml").write_text("service: warm\nfunctions:\n  warm:\n    handler: app.handler\n    provisioned: 1\n")
    (folder / "app.py").write_text("def handler(event, context):\n    return 1\n")
    server = serve(folder, "--no-watch")

    (folder / "app.py").write_text("raise RuntimeError('init broke')\n")
    result = deploy(server.endpoint, folder)

    assert result.returncode == 0, result.stderr
    assert "functions.warm.provisioned: the provisioned instances failed their init (`squall logs warm` shows why)" in (
        result.stderr
    )


def test_no_deploy_serves_only_what_was_deployed(serve: Any, tmp_path: Path) -> None:
    main = write_service(tmp_path / "main", "main", "main", "main-v1")
    first = serve(main)
    assert first.stop() == 0
    # An edit that was never deployed stays out of a restart with --no-deploy.
    (main / "app.py").write_text("def version(event, context):\n    return 'never deployed'\n")

    second = serve(main, "--no-deploy", data=first.data)

    assert any("serving 1 restored service (1 function)" in line for line in second.output)
    assert httpx.get(second.endpoint + "/main", timeout=20).json() == "main-v1"


def test_no_deploy_without_deployed_services_fails(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    result = subprocess.run(
        [sys.executable, "-m", "squall", "up", str(empty), "--no-deploy", "--port", "0", "--data", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 2
    assert "has no deployed service to serve" in result.stderr


PIDS_APP = """\
service: pids
functions:
  first:
    handler: app.pid
    events:
      - http: {method: GET, path: /first}
  second:
    handler: app.pid
    environment: {COLOUR: blue}
    events:
      - http: {method: GET, path: /second}
"""


def test_redeploy_keeps_instances_of_unchanged_functions(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "pids"
    folder.mkdir()
    (folder / "app.py").write_text("import os\n\ndef pid(event, context):\n    return os.getpid()\n")
    (folder / "squall.yml").write_text(PIDS_APP)
    server = serve(folder, "--no-watch")
    first_before = httpx.get(server.endpoint + "/first", timeout=20).json()
    second_before = httpx.get(server.endpoint + "/second", timeout=20).json()

    # Only the second function's settings change.
    (folder / "squall.yml").write_text(PIDS_APP.replace("blue", "green"))
    assert deploy(server.endpoint, folder).returncode == 0

    assert httpx.get(server.endpoint + "/first", timeout=20).json() == first_before
    assert httpx.get(server.endpoint + "/second", timeout=20).json() != second_before
    assert any("kept the running instances of first," in line for line in server.output)

    # A new event does not touch the function's instances either, and its route serves at once.
    (folder / "squall.yml").write_text(
        PIDS_APP.replace("blue", "green").replace("      - http: {method: GET, path: /first}\n",
                                                   "      - http: {method: GET, path: /first}\n"
                                                   "      - http: {method: GET, path: /also-first}\n")
    )
    assert deploy(server.endpoint, folder).returncode == 0
    assert httpx.get(server.endpoint + "/also-first", timeout=20).json() == first_before


def test_unused_code_copies_deleted(serve: Any, tmp_path: Path) -> None:
    main = write_service(tmp_path / "main", "main", "main", "v1")
    data = tmp_path / "pruned-data"
    server = serve(main, "--no-watch", data=data)
    published = subprocess.run(
        [sys.executable, "-m", "squall", "publish", "main", "--endpoint", server.endpoint],
        capture_output=True, text=True, timeout=60,
    )
    assert published.returncode == 0, published.stderr
    first_copy = {path.name for path in (data / "code").iterdir()}

    for answer in ("v2", "v3"):
        write_service(main, "main", "main", answer)
        result = deploy(server.endpoint, main)
        assert result.returncode == 0, result.stderr

    copies = {path.name for path in (data / "code").iterdir()}
    # The published version's copy and the deployed one stay; v2's, which nothing uses, is gone.
    assert len(copies) == 2
    assert first_copy <= copies
    assert httpx.get(server.endpoint + "/main", timeout=20).json() == "v3"
    assert any("deleted 1 code copy that nothing uses any more" in line for line in server.output)


def test_provisioned_keeps_room_for_versions(tmp_path: Path) -> None:
    # Calls of published versions and aliases never run on $LATEST's provisioned instances.
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "squall.yml").write_text(
        "service: big\nfunctions:\n  big:\n    handler: app.handler\n    memory_mb: 1024\n"
        "    provisioned: 2\n    reserved_concurrency: 2\n"
    )
    (folder / "app.py").write_text("def handler(event, context):\n    return 1\n")
    result = start_up(folder, tmp_path / "data", "--memory-budget-mb", "2048")

    assert result.returncode == 2
    assert "start the server with --memory-budget-mb 3072 or more" in result.stderr


def test_no_deploy_names_services_that_failed(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "squall.yml").write_text(
        "service: warm\nfunctions:\n  warm:\n    handler: app.handler\n    memory_mb: 512\n    provisioned: 2\n"
    )
    (folder / "app.py").write_text("def handler(event, context):\n    return 1\n")
    data = tmp_path / "data"
    serve(folder, "--no-watch", data=data).stop()
    result = start_up(folder, data, "--no-deploy", "--memory-budget-mb", "1024")

    assert result.returncode == 2
    assert "cannot restore service warm" in result.stderr
    assert f"no service of the data folder {data} could be deployed again (warm)" in result.stderr
