"""Downloads of a function version's code as a .zip file, at the URL GetFunction returns as `Code.Location`.

Lambda's `Code.Location` is a presigned URL that downloads the deployment
package for 10 minutes without credentials. Squall signs its URL the same
way: the query carries an expiry time and an HMAC of the function, version
and expiry under a key that lives as long as the server process, so a
restart invalidates every URL handed out before it.

The package is built on request from the version's code copy: the files a
deploy copied, without the bytecode Squall adds, in a zip file with fixed
timestamps, so that one code copy always gives the same bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import secrets
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from squall.deploy.snapshot import code_files
from squall.gateway.http import Send, header, respond

PREFIX = "/_squall/code/"
URL_LIFETIME_S = 600  # as Lambda's presigned Location
# A fixed time for every zip entry (the earliest a zip file can store), so the bytes depend on the files alone.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SIGNING_KEY = secrets.token_bytes(32)


def location(scope: dict[str, Any], function: str, version: str, now: float | None = None) -> str:
    """Return a URL, on the host the request came to, that downloads a function version's code for URL_LIFETIME_S."""
    expires = int((time.time() if now is None else now) + URL_LIFETIME_S)
    query = f"Expires={expires}&Signature={_signature(function, version, expires)}"
    return f"{_base_url(scope)}{PREFIX}{quote(function, safe='')}/{quote(version, safe='')}.zip?{query}"


def signature_valid(path: str, query_string: bytes, now: float | None = None) -> bool:
    """Tell whether a download request carries an unexpired signature for the function and version in its path."""
    named = target(path)
    if named is None:
        return False
    query = parse_qs(query_string.decode("latin-1"))
    expires_text = query.get("Expires", [""])[0]
    signature = query.get("Signature", [""])[0]
    if not expires_text.isdigit() or int(expires_text) < (time.time() if now is None else now):
        return False
    expected = _signature(*named, int(expires_text))
    return hmac.compare_digest(signature.encode(), expected.encode())


async def send_package(send: Send, path: str, code_root: Path) -> None:
    """Send the zip file of a code copy as the response."""
    body = await asyncio.to_thread(package, code_root)
    name = path.rsplit("/", 1)[-1]
    headers = [
        (b"content-type", b"application/zip"),
        (b"content-length", str(len(body)).encode()),
        (b"content-disposition", f'attachment; filename="{name}"'.encode()),
    ]
    await respond(send, 200, headers, body)


async def send_denied(send: Send, message: str) -> None:
    """Send the error of a download that is not allowed, in the XML error shape a presigned S3 URL returns."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>AccessDenied</Code><Message>{message}</Message></Error>"
    ).encode()
    headers = [(b"content-type", b"application/xml"), (b"content-length", str(len(body)).encode())]
    await respond(send, 403, headers, body)


def package(code_root: Path) -> bytes:
    """Build the zip file of a code copy: every file a deploy copies, in sorted order, with fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative, file in code_files(code_root):
            entry = zipfile.ZipInfo(relative, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            # Keep the file's permission bits, executables included.
            entry.external_attr = (file.stat().st_mode & 0o7777 | 0o100000) << 16
            archive.writestr(entry, file.read_bytes())
    return buffer.getvalue()


def target(path: str) -> tuple[str, str] | None:
    """Return the function and version a download path names, or None when the path is not a download."""
    if not path.startswith(PREFIX) or not path.endswith(".zip"):
        return None
    function, slash, version = path[len(PREFIX) : -len(".zip")].partition("/")
    if not slash or not function or not version or "/" in version:
        return None
    return unquote(function), unquote(version)


def _signature(function: str, version: str, expires: int) -> str:
    message = f"{function}\n{version}\n{expires}".encode()
    return hmac.new(_SIGNING_KEY, message, hashlib.sha256).hexdigest()


def _base_url(scope: dict[str, Any]) -> str:
    scheme = scope.get("scheme", "http")
    host = header(scope, b"host")
    if host:
        return f"{scheme}://{host.decode('latin-1')}"
    server = scope.get("server") or ("127.0.0.1", 80)
    address, port = server[0], server[1]
    if ":" in address:
        address = f"[{address}]"
    return f"{scheme}://{address}:{port}"
