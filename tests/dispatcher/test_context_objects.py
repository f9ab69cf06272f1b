"""The client context and identity objects of the handler's context, checked against Powertools' description of Lambda's."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing.lambda_client_context import LambdaClientContext
from aws_lambda_powertools.utilities.typing.lambda_client_context_mobile_client import LambdaClientContextMobileClient
from aws_lambda_powertools.utilities.typing.lambda_cognito_identity import LambdaCognitoIdentity

from tests.dispatcher.contexts import MOBILE_CLIENT, make_context


def properties_of(model: type) -> list[str]:
    """Return the names of the properties a Powertools typing class declares."""
    return [name for name, value in vars(model).items() if isinstance(value, property)]


@pytest.mark.parametrize(
    ("model", "path"),
    [
        (LambdaCognitoIdentity, "identity"),
        (LambdaClientContext, "client_context"),
        (LambdaClientContextMobileClient, "client_context.client"),
    ],
    ids=["identity", "client-context", "mobile-client"],
)
def test_attributes_match_powertools(model: type, path: str) -> None:
    target: Any = make_context(client_context={"client": MOBILE_CLIENT, "custom": {}, "env": {}})
    for part in path.split("."):
        target = getattr(target, part)

    expected = properties_of(model)

    assert expected
    missing = [name for name in expected if not hasattr(target, name)]
    assert missing == []


def test_mobile_client_fields_read() -> None:
    client = make_context(client_context={"client": MOBILE_CLIENT}).client_context.client

    assert {name: getattr(client, name) for name in MOBILE_CLIENT} == MOBILE_CLIENT


@pytest.mark.parametrize("client", ["a string", ["a", "list"], None], ids=["string", "list", "null"])
def test_client_not_object_is_none(client: Any) -> None:
    context = make_context(client_context={"client": client, "custom": {"k": "v"}})

    assert context.client_context is not None
    assert context.client_context.client is None
    assert context.client_context.custom == {"k": "v"}


def test_identity_from_cognito_fields() -> None:
    cognito = {"cognito_identity_id": "us-east-1:1111", "cognito_identity_pool_id": "us-east-1:pool"}

    identity = make_context(cognito_identity=cognito).identity

    assert identity.cognito_identity_id == "us-east-1:1111"
    assert identity.cognito_identity_pool_id == "us-east-1:pool"


def test_identity_without_cognito_fields_none() -> None:
    identity = make_context().identity

    assert identity is not None
    assert identity.cognito_identity_id is None
    assert identity.cognito_identity_pool_id is None


def test_client_context_absent_is_none() -> None:
    assert make_context().client_context is None
