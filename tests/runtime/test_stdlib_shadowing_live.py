"""A service folder may hold modules named like the standard library's without breaking the runtime.

The function's code root is first on sys.path, as Lambda's task root is, so
the runtime imports all it needs before that. Here every module of the
standard library has a namesake in the service folder that fails when
imported: any import the runtime makes later shows as a failed call.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.runtime.live import invoke, write_service

HANDLERS = '''\
import logging
import os


def work(event, context):
    logging.getLogger("work").warning("warned")
    context.log("logged\\n")
    if event.get("fail"):
        raise ValueError("failed on purpose")
    if event.get("unencodable"):
        return {"value": {1, 2}}
    if event.get("log_exception"):
        try:
            raise KeyError("logged with its trace")
        except KeyError:
            logging.getLogger("work").exception("caught")
    return {"pid": os.getpid()}


async def work_async(event, context):
    return {"pid": os.getpid()}
'''

MANIFEST = """\
service: shadowing
functions:
  work:
    handler: handlers.work
  json_logs:
    handler: handlers.work
    environment: {AWS_LAMBDA_LOG_FORMAT: JSON}
  async_work:
    handler: handlers.work_async
"""


def shadowing_service(folder: Path) -> Path:
    files = {"handlers.py": HANDLERS, "squall.yml": MANIFEST}
    for name in sys.stdlib_module_names:
        files[f"{name}.py"] = f'raise RuntimeError("the runtime imported the service\'s {name}.py")\n'
    return write_service(folder, files)


def test_runtime_imports_nothing_from_service_folder(serve: Any, tmp_path: Path) -> None:
    server = serve(shadowing_service(tmp_path / "service"))

    worked = invoke(server, "work")
    failed = invoke(server, "work", {"fail": True})
    unencodable = invoke(server, "work", {"unencodable": True})
    json_logged = invoke(server, "json_logs", {"log_exception": True})
    awaited = invoke(server, "async_work")

    assert worked.function_error is None, worked
    assert "pid" in worked.payload
    assert "warned" in worked.log
    assert "logged\n" in worked.log
    assert failed.payload["errorType"] == "ValueError", failed
    assert unencodable.payload["errorType"] == "Runtime.MarshalError", unencodable
    assert json_logged.function_error is None, json_logged
    assert '"errorType": "KeyError"' in json_logged.log
    assert awaited.function_error is None, awaited
    assert "pid" in awaited.payload
