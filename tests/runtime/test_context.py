"""The handler context's `log()` and `tenant_id`, which Lambda's Python context has too."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.typing.lambda_context import LambdaContext as PowertoolsContext

from tests.dispatcher.contexts import make_context


def test_has_powertools_properties() -> None:
    context = make_context()
    expected = [name for name, value in vars(PowertoolsContext).items() if isinstance(value, property)]

    assert "tenant_id" in expected
    assert [name for name in expected if not hasattr(context, name)] == []


def test_tenant_id_is_none_without_tenant_isolation() -> None:
    assert make_context().tenant_id is None


def test_tenant_id_names_the_tenant() -> None:
    assert make_context(tenant_id="blue").tenant_id == "blue"


def test_log_writes_without_newline(capsys: pytest.CaptureFixture[str]) -> None:
    context = make_context()

    context.log("first part, ")
    context.log(msg="second part")
    context.log(42)

    assert capsys.readouterr().out == "first part, second part42"
