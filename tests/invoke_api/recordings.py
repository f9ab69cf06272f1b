"""Read AWS's recorded Lambda responses and compare Squall's responses with them.

The recordings are LocalStack's snapshots of real AWS: each test's
`recorded-content` maps a step name to what boto3 returned, with ids replaced
by placeholders such as `<uuid>` and the account id by 111111111111.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

CONFORMANCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance"
LAMBDA_RECORDINGS = CONFORMANCE / "aws-recorded" / "lambda-test_lambda.snapshot.json"
# Recordings of the Lambda API's operations, among them Invoke's parameter validation.
LAMBDA_API_RECORDINGS = CONFORMANCE / "aws-recorded" / "lambda-test_lambda_api.snapshot.json"

_PLACEHOLDER = re.compile(r"<[^<>]+>")
_RECORDED_ACCOUNT = "111111111111"


@cache
def _snapshots(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def recording(test: str, step: str, parameter: str | None = None, source: Path = LAMBDA_RECORDINGS) -> Any:
    """Return what AWS returned at `step` of the one recorded test whose name ends with `test`.

    `parameter` selects a parametrized case by the start of its id, for ids
    too awkward to spell out (`test_x[message-...]` is `test_x`, "message-").
    `source` is the snapshot file to read.
    """
    matches = []
    for key, entry in _snapshots(source).items():
        if parameter is None:
            found = key.endswith(test)
        else:
            name, _, case = key.partition("[")
            found = name.endswith(test) and case.startswith(parameter)
        if found:
            matches.append(entry["recorded-content"])
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} recorded tests end with {test!r} (parameter {parameter!r}); expected 1")
    return matches[0][step]


def template_pattern(template: str) -> re.Pattern[str]:
    """Turn a recorded message into a regular expression where each placeholder matches any text."""
    parts = []
    for index, piece in enumerate(_PLACEHOLDER.split(template)):
        if index:
            parts.append(".+?")
        parts.append(re.escape(piece).replace(_RECORDED_ACCOUNT, r"\d{12}"))
    return re.compile("".join(parts), re.DOTALL)


def matches_template(template: str, text: str) -> bool:
    """Tell whether `text` is the recorded message with its placeholders filled in."""
    return template_pattern(template).fullmatch(text) is not None


def response_keys(response: dict[str, Any]) -> set[str]:
    """Return the top-level keys of a boto3 response or error response, without boto3's own metadata."""
    return set(response) - {"ResponseMetadata"}
