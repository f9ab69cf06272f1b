"""SigV4 checks against requests that botocore signs, including the ones the server must refuse."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from squall.gateway import sigv4

TOKEN = "the-token"
URL = "http://127.0.0.1:8123/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aecho/invocations?Qualifier=live"


def signed_scope(
    body: bytes = b'{"a": 1}', secret: str = TOKEN, region: str = "us-east-1", service: str = "lambda",
    headers: dict[str, str] | None = None, sent_body: bytes | None = None,
) -> tuple[dict[str, Any], bytes]:
    """Sign a request with botocore and return the ASGI scope a server would receive, and the body it would read."""
    request = AWSRequest(method="POST", url=URL, data=body, headers=headers or {})
    SigV4Auth(Credentials("squall", secret), service, region).add_auth(request)
    parts = urlsplit(URL)
    scope = {
        "method": "POST",
        "path": "/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:echo/invocations",
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "headers": [(b"host", parts.netloc.encode())]
        + [(name.lower().encode(), str(value).encode()) for name, value in request.headers.items()],
    }
    return scope, body if sent_body is None else sent_body


def check(scope: dict[str, Any], body: bytes, secret: str = TOKEN) -> bool:
    return sigv4.verify(scope, body, secret, "us-east-1", "lambda")


def test_botocore_signature_accepted() -> None:
    assert check(*signed_scope())


def test_wrong_secret_refused() -> None:
    assert not check(*signed_scope(secret="guess"))


def test_changed_body_refused() -> None:
    assert not check(*signed_scope(sent_body=b'{"evil": 1}'))


@pytest.mark.parametrize("declared", ["UNSIGNED-PAYLOAD", "hash of the signed body"])
def test_content_sha256_header_must_match_body(declared: str) -> None:
    signed_body = b'{"a": 1}'
    value = hashlib.sha256(signed_body).hexdigest() if declared.startswith("hash") else declared
    scope, _ = signed_scope(signed_body, headers={"X-Amz-Content-SHA256": value})

    # The header is signed, but a body other than the one it names is refused.
    assert not check(scope, b'{"evil": 1}')


@pytest.mark.parametrize(("region", "service"), [("eu-west-1", "lambda"), ("us-east-1", "s3")])
def test_scope_of_other_region_or_service_refused(region: str, service: str) -> None:
    assert not check(*signed_scope(region=region, service=service))


def test_unsigned_host_refused() -> None:
    scope, body = signed_scope()
    headers = dict(scope["headers"])
    amz_date = headers[b"x-amz-date"].decode()
    credential_scope = f"{amz_date[:8]}/us-east-1/lambda/aws4_request"
    # A correct signature over x-amz-date alone, so that only the missing host can refuse it.
    canonical = sigv4.canonical_request(scope, body, ("x-amz-date",))
    assert canonical is not None
    string_to_sign = "\n".join(
        [sigv4.ALGORITHM, amz_date, credential_scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = sigv4.signing_key(TOKEN, amz_date[:8], "us-east-1", "lambda")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"{sigv4.ALGORITHM} Credential=squall/{credential_scope}, SignedHeaders=x-amz-date, Signature={signature}"
    )
    scope["headers"] = [(name, value) for name, value in scope["headers"] if name != b"authorization"]
    scope["headers"].append((b"authorization", authorization.encode()))

    assert not check(scope, body)


def test_stale_date_refused() -> None:
    scope, body = signed_scope()

    assert not sigv4.verify(scope, body, TOKEN, "us-east-1", "lambda", now=time.time() + 16 * 60)
    assert sigv4.verify(scope, body, TOKEN, "us-east-1", "lambda", now=time.time() + 14 * 60)


def test_expiry_named_in_aws_words() -> None:
    scope, _ = signed_scope()

    late = sigv4.expiry_problem(scope, now=time.time() + 16 * 60)
    early = sigv4.expiry_problem(scope, now=time.time() - 16 * 60)

    assert late is not None and late.startswith("Signature expired: ")
    assert early is not None and early.startswith("Signature not yet current: ")
    assert sigv4.expiry_problem(scope) is None
