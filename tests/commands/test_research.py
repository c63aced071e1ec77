"""``asasap research export`` and the refusals of ``research`` commands, in-process on a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.cli import main
from tests.support.settings import TEST_SECRET


@pytest.fixture
def node_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "ASASAP_DATA_DIR": str(tmp_path / "node"),
        "ASASAP_DATABASE_URL": database_url,
        "ASASAP_BASE_URL": "http://127.0.0.1:8123",
        "ASASAP_SECRET_KEY": TEST_SECRET,
    }.items():
        monkeypatch.setenv(name, value)


def test_export_json_carries_the_dictionary(node_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["research", "export", "--from", "2026-10", "--to", "2026-11", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["from"], data["to"], data["k"]) == ("2026-10", "2026-11", 5)
    assert {c["month"] for c in data["figures"]} == {"2026-10", "2026-11"}
    assert all(
        set(entry) >= {"definition_fr", "definition", "unit", "population", "suppression", "perturbation"}
        for entry in data["dictionary"]
    )
    assert data["noise"]["method"] == "cell-key"


def test_export_csv_to_a_folder(node_env: None, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert main(["research", "export", "--from", "2026-11", "--to", "2026-11", "--output", str(out)]) == 0
    figures = (out / "figures.csv").read_text().splitlines()
    assert figures[0] == "month,scope,indicator,breakdown,value,share,items,people,suppressed"
    assert "2026-11,local,proposals,request:*,0,,0,0," in figures
    assert (
        (out / "dictionary.csv").read_text().startswith("name,title,definition_fr,definition,unit,population")
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11", "--to", "2026-01"], "reversed"),
        (["--from", "2026-1", "--to", "2026-11"], "not a month"),
        (["--from", "1900-01", "--to", "2026-11"], "at most"),
    ],
)
def test_bad_ranges_exit_1_and_export_nothing(
    node_env: None, args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["research", "export", *args, "--output", str(tmp_path / "never")]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_k_below_three_is_a_configuration_error(
    node_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASASAP_RESEARCH_MIN_PEOPLE", "2")
    assert main(["research", "export"]) == 2
    assert "ASASAP_RESEARCH_MIN_PEOPLE" in capsys.readouterr().err


def test_collect_refuses_what_is_not_a_node_url(node_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["research", "collect", "montreuil.example"]) == 1
    assert "not a node URL" in capsys.readouterr().err
