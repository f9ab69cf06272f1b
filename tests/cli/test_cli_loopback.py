"""`squall invoke` over a real loopback socket, against a stand-in for the Invoke API."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from squall.cli import CliContext, cli

LOG_TAIL = "START RequestId: r-1 Version: $LATEST\nhandling ada\nEND RequestId: r-1\n"


class InvokeHandler(BaseHTTPRequestHandler):
    """Echoes the payload back as {"echo": payload} with a log tail, as the Invoke API would."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        reply = json.dumps({"echo": json.loads(body), "tail": self.headers.get("X-Amz-Log-Type")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.send_header("X-Amz-Executed-Version", "$LATEST")
        self.send_header("X-Amz-Log-Result", base64.b64encode(LOG_TAIL.encode()).decode())
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    # The socket listens once the constructor returns, so no readiness wait is needed.
    server = ThreadingHTTPServer(("127.0.0.1", 0), InvokeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_invoke_over_loopback_with_log_tail(endpoint: str) -> None:
    result = CliRunner().invoke(
        cli, ["invoke", "hello", "--payload", '{"name": "ada"}', "--log-tail", "--endpoint", endpoint], obj=CliContext()
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"echo": {"name": "ada"}, "tail": "Tail"}
    assert result.stderr.endswith(LOG_TAIL)
