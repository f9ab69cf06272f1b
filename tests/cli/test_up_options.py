"""`squall up` options: --region and SQUALL_REGION (the default, the check of the name, the value the server gets) and folder paths."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from squall.cli import cli


@pytest.fixture
def serve_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """Replace the server module, so that `squall up` records its arguments instead of serving."""
    calls: list[dict[str, object]] = []
    fake_server = types.ModuleType("squall.server")
    fake_server.serve = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "squall.server", fake_server)
    monkeypatch.delenv("SQUALL_REGION", raising=False)
    return calls


def test_help_names_default() -> None:
    result = CliRunner().invoke(cli, ["up", "--help"])

    assert result.exit_code == 0
    assert "--region REGION" in result.output
    assert "[default: us-east-1]" in result.output
    assert "SQUALL_REGION" in result.output


def test_default_region_passed(serve_calls: list[dict[str, object]]) -> None:
    result = CliRunner().invoke(cli, ["up"])

    assert result.exit_code == 0, result.output
    assert serve_calls[0]["region"] == "us-east-1"


@pytest.mark.parametrize("region", ["eu-west-1", "us-gov-west-1", "ap-southeast-3"])
def test_region_option_passed(serve_calls: list[dict[str, object]], region: str) -> None:
    result = CliRunner().invoke(cli, ["up", "--region", region])

    assert result.exit_code == 0, result.output
    assert serve_calls[0]["region"] == region


def test_region_from_environment(serve_calls: list[dict[str, object]]) -> None:
    result = CliRunner().invoke(cli, ["up"], env={"SQUALL_REGION": "eu-central-1"})

    assert result.exit_code == 0, result.output
    assert serve_calls[0]["region"] == "eu-central-1"


def test_option_wins_over_environment(serve_calls: list[dict[str, object]]) -> None:
    result = CliRunner().invoke(cli, ["up", "--region", "eu-west-1"], env={"SQUALL_REGION": "eu-central-1"})

    assert result.exit_code == 0, result.output
    assert serve_calls[0]["region"] == "eu-west-1"


@pytest.mark.parametrize("region", ["eu_west_1", "EU-WEST-1", "eu-west", "", "frankfurt"])
def test_invalid_region_rejected(serve_calls: list[dict[str, object]], region: str) -> None:
    result = CliRunner().invoke(cli, ["up", "--region", region])

    assert result.exit_code == 2
    assert "Invalid value for '--region'" in result.output
    assert f"invalid region {region!r}" in result.output
    assert "such as eu-west-1" in result.output
    assert serve_calls == []


def test_invalid_environment_region_rejected(serve_calls: list[dict[str, object]], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["up", str(tmp_path)], env={"SQUALL_REGION": "eu west 1"})

    assert result.exit_code == 2
    assert "invalid region 'eu west 1'" in result.output
    assert serve_calls == []


def test_undecodable_data_path_rejected(serve_calls: list[dict[str, object]], tmp_path: Path) -> None:
    data = Path(os.fsdecode(bytes(tmp_path) + b"/dat\xe9"))

    result = CliRunner().invoke(cli, ["up", "--data", str(data)])

    assert result.exit_code == 2
    assert "is not valid UTF-8" in result.output
    assert "--data" in result.output
    assert serve_calls == []
