"""The region a data folder keeps: recorded at its first start, and required of every later start."""

from __future__ import annotations

from pathlib import Path

from squall.server import REGION_FILE, check_data_region


def test_new_folder_records_region(tmp_path: Path) -> None:
    assert check_data_region(tmp_path, "eu-west-1") is None

    assert (tmp_path / REGION_FILE).read_text() == "eu-west-1\n"


def test_same_region_accepted(tmp_path: Path) -> None:
    check_data_region(tmp_path, "eu-west-1")

    assert check_data_region(tmp_path, "eu-west-1") is None
    assert (tmp_path / REGION_FILE).read_text() == "eu-west-1\n"


def test_other_region_rejected(tmp_path: Path) -> None:
    check_data_region(tmp_path, "eu-west-1")

    problem = check_data_region(tmp_path, "us-east-1")

    assert problem is not None
    assert f"the data folder {tmp_path} was first served as region eu-west-1, not us-east-1" in problem
    assert "--region eu-west-1" in problem
    assert "--data" in problem
    assert (tmp_path / REGION_FILE).read_text() == "eu-west-1\n"


def test_older_folder_is_us_east_1(tmp_path: Path) -> None:
    # A folder a server used before regions were recorded has squall.db and no region file.
    (tmp_path / "squall.db").write_bytes(b"")

    problem = check_data_region(tmp_path, "eu-west-1")

    assert problem is not None
    assert "first served as region us-east-1, not eu-west-1" in problem
    assert not (tmp_path / REGION_FILE).exists()


def test_older_folder_recorded_as_us_east_1(tmp_path: Path) -> None:
    (tmp_path / "squall.db").write_bytes(b"")

    assert check_data_region(tmp_path, "us-east-1") is None

    assert (tmp_path / REGION_FILE).read_text() == "us-east-1\n"


def test_invalid_region_file_named(tmp_path: Path) -> None:
    (tmp_path / REGION_FILE).write_text("somewhere\n")

    problem = check_data_region(tmp_path, "us-east-1")

    assert problem is not None
    assert f"{tmp_path / REGION_FILE} contains 'somewhere', which is not a region name" in problem
    assert (tmp_path / REGION_FILE).read_text() == "somewhere\n"
