"""AWS Signature Version 4 checks, so that AWS SDK clients reach a server that requires a token.

An AWS SDK signs each request with a secret access key instead of sending a
bearer token. A server that requires a token accepts a Lambda API request
signed with that token as the secret access key, whatever the access key id:
the signature proves the client knows the token without sending it.

For services other than S3, SigV4's canonical request takes the path as
sent, URI-encoded once more; the query's name=value pairs as sent, sorted;
the signed headers with their values trimmed; and the SHA-256 of the body.
The tests check it against boto3's own signatures.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from squall.gateway.http import header

ALGORITHM = "AWS4-HMAC-SHA256"
# AWS rejects a request whose X-Amz-Date is more than 15 minutes from its own clock.
MAX_CLOCK_SKEW_S = 15 * 60
_AUTHORIZATION = re.compile(
    rb"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<headers>[^,\s]+),"
    rb"\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class SignedRequest:
    """The parts of a SigV4 Authorization header."""

    access_key_id: str
    date: str  # YYYYMMDD
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def is_signed(scope: dict[str, Any]) -> bool:
    """Tell whether the request carries a SigV4 Authorization header."""
    return _authorization(scope).startswith(ALGORITHM.encode())


def verify(
    scope: dict[str, Any], body: bytes, secret: str, region: str, service: str, now: float | None = None
) -> bool:
    """Tell whether the request is signed with `secret` as the secret access key, at a time near `now`.

    The signature must be scoped to `region` and `service`, sign the Host
    header, and cover the body's SHA-256 (an X-Amz-Content-SHA256 header
    must equal it).
    """
    signed = parse_authorization(_authorization(scope))
    if signed is None:
        return False
    if signed.region != region or signed.service != service or "host" not in signed.signed_headers:
        return False
    amz_date = _header(scope, "x-amz-date")
    if amz_date is None or not amz_date.startswith(signed.date):
        return False
    moment = _seconds(amz_date)
    if moment is None or abs((time.time() if now is None else now) - moment) > MAX_CLOCK_SKEW_S:
        return False

    canonical = canonical_request(scope, body, signed.signed_headers)
    if canonical is None:
        return False
    credential_scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, credential_scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = signing_key(secret, signed.date, signed.region, signed.service)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signed.signature)


def expiry_problem(scope: dict[str, Any], now: float | None = None) -> str | None:
    """Describe an X-Amz-Date more than MAX_CLOCK_SKEW_S from `now`, in AWS's words; None when it is near or absent."""
    amz_date = _header(scope, "x-amz-date")
    moment = None if amz_date is None else _seconds(amz_date)
    if amz_date is None or moment is None:
        return None
    current = time.time() if now is None else now
    if abs(current - moment) <= MAX_CLOCK_SKEW_S:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(current))
    if moment < current:
        earliest = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(current - MAX_CLOCK_SKEW_S))
        return f"Signature expired: {amz_date} is now earlier than {earliest} ({stamp} - 15 min.)"
    latest = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(current + MAX_CLOCK_SKEW_S))
    return f"Signature not yet current: {amz_date} is still later than {latest} ({stamp} + 15 min.)"


def region_problem(scope: dict[str, Any], region: str) -> str | None:
    """Describe a signature scoped to a region other than `region`, in AWS's words; None otherwise."""
    signed = parse_authorization(_authorization(scope))
    if signed is None or signed.region == region:
        return None
    return f"Credential should be scoped to a valid region, not '{signed.region}'"


def parse_authorization(value: bytes) -> SignedRequest | None:
    """Read a SigV4 Authorization header; None when it is not one."""
    match = _AUTHORIZATION.match(value.strip())
    if match is None:
        return None
    parts = match.group("credential").decode("latin-1").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return None
    access_key_id, date, region, service, _ = parts
    headers = tuple(match.group("headers").decode("latin-1").split(";"))
    return SignedRequest(access_key_id, date, region, service, headers, match.group("signature").decode())


def canonical_request(scope: dict[str, Any], body: bytes, signed_headers: tuple[str, ...]) -> str | None:
    """Build the canonical request of a non-S3 service; None when a signed header is missing or the body is not the signed one."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    path = raw_path.decode("latin-1") or "/"
    canonical_uri = quote(path, safe="/~")

    query = scope.get("query_string", b"").decode("latin-1")
    pairs = [pair.partition("=") for pair in query.split("&") if pair] if query else []
    canonical_query = "&".join(f"{name}={value}" for name, _, value in sorted(pairs, key=lambda p: (p[0], p[2])))

    lines = []
    for name in signed_headers:
        value = _header(scope, name)
        if value is None:
            return None
        lines.append(f"{name}:{_SPACES.sub(' ', value.strip())}\n")
    payload_hash = hashlib.sha256(body).hexdigest()
    declared = _header(scope, "x-amz-content-sha256")
    if declared is not None and declared != payload_hash:
        # The header is signed, but the body must still be the one it names; UNSIGNED-PAYLOAD is S3's alone.
        return None
    return "\n".join(
        [scope["method"], canonical_uri, canonical_query, "".join(lines), ";".join(signed_headers), payload_hash]
    )


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """Derive the key SigV4 signs with from the secret access key and the credential scope."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _seconds(amz_date: str) -> float | None:
    """Return the Unix time of an X-Amz-Date value (20261205T170000Z), or None when it is not one."""
    try:
        return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def _authorization(scope: dict[str, Any]) -> bytes:
    return header(scope, b"authorization") or b""


def _header(scope: dict[str, Any], name: str) -> str | None:
    """Return a header's values joined by commas, as SigV4 canonicalises repeated headers; None when absent."""
    encoded_name = name.encode()
    values = [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == encoded_name]
    return ",".join(values) if values else None
