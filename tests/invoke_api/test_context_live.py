"""The context object, environment variables and temporary folder a function gets when invoked."""

from __future__ import annotations

import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_apps import LiveApp, lambda_client
from recordings import recording
from tests.dispatcher.contexts import MOBILE_CLIENT

# A variable of the process that starts the server, which functions must not inherit.
SERVER_SECRET = "SQUALL_TEST_SECRET"
PROBE_TIMEOUT_MS = 5000

# boto3's response to one call of `probe`, and what the function returned.
Probe = tuple[dict[str, Any], dict[str, Any]]


@pytest.fixture(scope="module")
def app(serve_module: Any) -> LiveApp:
    return serve_module("lambda", env={SERVER_SECRET: "1"})


@pytest.fixture(scope="module")
def probe(app: LiveApp) -> Probe:
    """Invoke `probe` once; return boto3's response and what the function reported."""
    response = lambda_client(app.endpoint).invoke(FunctionName="probe", Payload=b"{}")
    assert "FunctionError" not in response
    return response, json.loads(response["Payload"].read())


def test_request_id_matches_header(probe: Probe) -> None:
    response, seen = probe

    assert seen["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert seen["aws_request_id"] == response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_context_describes_function(probe: Probe) -> None:
    _, seen = probe

    assert seen["function_name"] == "probe"
    assert seen["function_version"] == "$LATEST"
    assert re.fullmatch(r"arn:aws:lambda:us-east-1:\d{12}:function:probe", seen["invoked_function_arn"])
    assert seen["memory_limit_in_mb"] == "256"
    assert seen["log_group_name"] == "/aws/lambda/probe"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", seen["log_stream_name"])
    assert 0 < seen["remaining_ms"] <= PROBE_TIMEOUT_MS


def test_lambda_variables_present(app: LiveApp, probe: Probe) -> None:
    _, seen = probe
    environment = seen["environment"]

    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "probe"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert environment["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert environment["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/probe"
    assert environment["AWS_LAMBDA_LOG_STREAM_NAME"] == seen["log_stream_name"]
    assert environment["AWS_REGION"] == "us-east-1"
    assert environment["_HANDLER"] == "handlers.probe"
    assert environment["LAMBDA_TASK_ROOT"] == str(app.task_root)
    assert (app.task_root / "handlers.py").read_bytes() == (app.folder / "handlers.py").read_bytes()
    assert environment["PROBE_SETTING"] == "from-manifest"


def test_each_call_gets_an_unsampled_xray_trace_header(app: LiveApp, probe: Probe) -> None:
    _, seen = probe
    again = json.loads(lambda_client(app.endpoint).invoke(FunctionName="probe", Payload=b"{}")["Payload"].read())

    header = seen["environment"]["_X_AMZN_TRACE_ID"]
    # The Lineage field counts this call as the first of probe's in its chain of calls.
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0;Lineage=[0-9a-f]{8}:1", header)
    # A new trace for each invocation, as Lambda gives each one its own.
    assert again["environment"]["_X_AMZN_TRACE_ID"] != header


def test_server_environment_not_inherited(probe: Probe) -> None:
    _, seen = probe

    assert SERVER_SECRET not in seen["environment"]


def test_tmpdir_private_per_instance(app: LiveApp) -> None:
    def call() -> dict[str, Any]:
        # A client per thread, and a call long enough that the two overlap and need two instances.
        response = lambda_client(app.endpoint).invoke(FunctionName="probe", Payload=b'{"sleep_s": 1.0}')
        assert "FunctionError" not in response
        return json.loads(response["Payload"].read())

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda _: call(), range(2))

    assert first["pid"] != second["pid"]
    # Each lists only its own file: TMPDIR is a folder of its own, or /tmp is, where instances get their own /tmp.
    assert first["tempdir_probes"] == [f"probe-{first['pid']}"]
    assert second["tempdir_probes"] == [f"probe-{second['pid']}"]
    assert first["tempdir"] == first["environment"]["TMPDIR"]
    assert second["tempdir"] == second["environment"]["TMPDIR"]


@pytest.mark.parametrize(
    ("function_name", "expected_suffix"),
    [("probe:$LATEST", ":function:probe:$LATEST"), ("000000000000:function:probe", ":function:probe")],
)
def test_invoked_arn_keeps_qualifier(app: LiveApp, function_name: str, expected_suffix: str) -> None:
    response = lambda_client(app.endpoint).invoke(FunctionName=function_name, Payload=b"{}")
    seen = json.loads(response["Payload"].read())

    assert "FunctionError" not in response
    assert seen["invoked_function_arn"].endswith(expected_suffix)


# Client context and identity


def context_objects(app: LiveApp, client_context: Any = None) -> dict[str, Any]:
    """Invoke `context_objects`, with a client context when one is given, and return what the function saw."""
    arguments: dict[str, Any] = {"FunctionName": "context_objects", "Payload": b"{}"}
    if client_context is not None:
        arguments["ClientContext"] = base64.b64encode(json.dumps(client_context).encode()).decode()
    response = lambda_client(app.endpoint).invoke(**arguments)
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def test_client_context_has_mobile_client(app: LiveApp) -> None:
    sent = {"client": MOBILE_CLIENT, "custom": {"colour": "green"}, "env": {"locale": "en_GB"}}

    seen = context_objects(app, sent)["client_context"]

    assert seen["client"] == MOBILE_CLIENT
    assert seen["custom"] == {"colour": "green"}
    assert seen["env"] == {"locale": "en_GB"}


def test_client_context_recorded_keys(app: LiveApp) -> None:
    # The client context of AWS's recording: a `client` object without the mobile SDK's keys.
    recorded = recording("TestLambdaFeatures::test_lambda_with_context", "invocation")["Payload"]["context"]["clientContext"]

    seen = context_objects(app, recorded)["client_context"]

    assert seen["client"] == dict.fromkeys(MOBILE_CLIENT)
    assert seen["custom"] == recorded["custom"]
    assert seen["env"] == recorded["env"]


def test_client_context_missing_parts_none(app: LiveApp) -> None:
    seen = context_objects(app, {})["client_context"]

    assert seen == {"client": None, "custom": None, "env": None}


def test_no_client_context_is_none(app: LiveApp) -> None:
    seen = context_objects(app)

    assert seen["client_context"] is None


def test_identity_without_cognito_is_empty(app: LiveApp) -> None:
    seen = context_objects(app)

    assert seen["identity"] == {"cognito_identity_id": None, "cognito_identity_pool_id": None}


@pytest.mark.parametrize("client_context", [b"[1, 2]", b'"text"', b"{not json"], ids=["list", "string", "invalid-json"])
def test_non_object_client_context_rejected(app: LiveApp, client_context: bytes) -> None:
    with pytest.raises(ClientError) as raised:
        lambda_client(app.endpoint).invoke(
            FunctionName="context_objects", Payload=b"{}", ClientContext=base64.b64encode(client_context).decode()
        )
    error = raised.value.response

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidRequestContentException"
    assert error["Error"]["Message"] == "Client context must be a valid Base64-encoded JSON object."


def test_unpadded_client_context_accepted(app: LiveApp) -> None:
    encoded = base64.b64encode(json.dumps({"custom": {"size": "x" * 2663}}).encode()).decode().rstrip("=")
    assert len(encoded) == 3583

    response = lambda_client(app.endpoint).invoke(FunctionName="context_objects", Payload=b"{}", ClientContext=encoded)

    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read())["client_context"]["custom"] == {"size": "x" * 2663}
