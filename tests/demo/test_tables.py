"""Reading one table: rows in order with the line each starts on, values by type, refusals that say where."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from node.demo.tables import DemoDataError, Row, read_table

COLUMNS = ("name", "hours", "done", "days", "scores")


def table(tmp_path: Path, text: str) -> Path:
    (tmp_path / "things.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_rows_come_in_order_with_their_lines(tmp_path: Path) -> None:
    folder = table(
        tmp_path,
        '# two things\n\n[[thing]]\nname = "a"\n\n[[thing]]\nname = "b"\ndone = true\ndays = ["MO"]\n',
    )
    first, second = read_table(folder, "things.toml", "thing", COLUMNS)
    assert (first.number, first.line, first.text("name")) == (1, 3, "a")
    assert (second.number, second.line, second.text("name")) == (2, 6, "b")
    assert (first.flag("done", False), second.flag("done", False)) == (False, True)
    assert (first.texts("days"), second.texts("days")) == ((), ("MO",))
    assert first.text("hours", "") == "" and first.integer("hours", 1) == 1
    assert second.where("days") == f"{folder / 'things.toml'}, row 2 (line 6), column 'days'"


def test_rows_written_as_an_inline_array_have_no_line(tmp_path: Path) -> None:
    folder = table(tmp_path, 'thing = [{ name = "a" }, { name = "b" }]\n')
    rows = read_table(folder, "things.toml", "thing", COLUMNS)
    assert [row.where() for row in rows] == [
        f"{folder / 'things.toml'}, row 1",
        f"{folder / 'things.toml'}, row 2",
    ]


def one_row(tmp_path: Path, body: str) -> Row:
    (row,) = read_table(table(tmp_path, f"[[thing]]\n{body}\n"), "things.toml", "thing", COLUMNS)
    return row


@pytest.mark.parametrize(
    ("body", "read", "says"),
    [
        ("", lambda row: row.text("name"), "column 'name': missing; this row needs it"),
        (
            'name = ""',
            lambda row: row.text("name"),
            "column 'name': empty; give a value",
        ),
        (
            "name = 3",
            lambda row: row.text("name"),
            "column 'name': 3 is not a string (between double quotes)",
        ),
        ("hours = true", lambda row: row.integer("hours"), "column 'hours': true is not a whole number"),
        ("hours = 1.5", lambda row: row.integer("hours"), "column 'hours': 1.5 is not a whole number"),
        ('done = "yes"', lambda row: row.flag("done", False), "column 'done': 'yes' is not true or false"),
        ("days = [1]", lambda row: row.texts("days"), "column 'days': 1 is not a string"),
        (
            "scores = { a = 1.5 }",
            lambda row: row.scores("scores"),
            "column 'scores': a = 1.5 is not a whole number",
        ),
        ("scores = 5", lambda row: row.scores("scores"), "column 'scores': 5 is not a table of numbers"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(
    tmp_path: Path, body: str, read: Callable[[Row], object], says: str
) -> None:
    row = one_row(tmp_path, body)
    with pytest.raises(DemoDataError) as raised:
        read(row)
    assert str(raised.value).startswith(f"{tmp_path / 'things.toml'}, row 1 (line 1), {says}"), raised.value


def test_an_unknown_column_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(DemoDataError) as raised:
        one_row(tmp_path, 'name = "a"\nnmae = "b"')
    assert str(raised.value) == (
        f"{tmp_path / 'things.toml'}, row 1 (line 1), column 'nmae': "
        "not a column of this table (name, hours, done, days, scores)"
    )


def test_a_table_must_be_rows(tmp_path: Path) -> None:
    folder = table(tmp_path, 'thing = ["a", "b"]\n')
    with pytest.raises(DemoDataError) as raised:
        read_table(folder, "things.toml", "thing", COLUMNS)
    assert (
        str(raised.value)
        == f"{folder / 'things.toml'}: 'thing' must be rows, each starting with a [[thing]] line"
    )


def test_a_table_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "things.toml").write_bytes('[[thing]]\nname = "Chlo\xe9"\n'.encode("latin-1"))
    with pytest.raises(DemoDataError) as raised:
        read_table(tmp_path, "things.toml", "thing", COLUMNS)
    assert str(raised.value).startswith(f"{tmp_path / 'things.toml'}: not UTF-8 text"), raised.value


def test_an_empty_table_has_no_rows(tmp_path: Path) -> None:
    assert read_table(table(tmp_path, "# nothing yet\n"), "things.toml", "thing", COLUMNS) == []
