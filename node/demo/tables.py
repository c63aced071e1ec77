"""Reading one table of the demo's data: a TOML file of ``[[name]]`` rows, one per person, proposal, bid…

Each row is a TOML table whose keys are the columns. :func:`read_table` refuses a file that is not
valid TOML, holds anything besides its rows, or a row with a column the table does not have; a
:class:`Row` hands out its values by type and refuses a missing or mistyped one. Every refusal is a
:class:`DemoDataError` whose message names the file, the row (with the line where it starts) and the
column, so that a typo in the data reads like a compiler error.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import NoReturn

__all__ = ["DemoDataError", "Row", "read_table"]


class DemoDataError(ValueError):
    """A demo table that cannot be read, or a bad value in it; the message says where and why."""


@dataclass(frozen=True)
class Row:
    """One row of a table: its place in the file and its values by column."""

    file: str
    number: int  # from 1, in the order of the file
    line: int  # where its ``[[name]]`` header stands; 0 when it could not be told
    values: Mapping[str, object]

    def where(self, column: str | None = None) -> str:
        """``people.toml, row 3 (line 37), column 'bio'``: where a message points to."""
        place = f"{self.file}, row {self.number}" + (f" (line {self.line})" if self.line else "")
        return place if column is None else f"{place}, column {column!r}"

    def fail(self, column: str | None, message: str) -> NoReturn:
        """Refuse the value of ``column`` (None: the row as a whole)."""
        raise DemoDataError(f"{self.where(column)}: {message}")

    def check(self, condition: bool, column: str | None, message: str) -> None:
        """Refuse the value of ``column`` unless ``condition`` holds."""
        if not condition:
            self.fail(column, message)

    def has(self, column: str) -> bool:
        return column in self.values

    def _value(self, column: str, kind: type, what: str) -> object:
        if column not in self.values:
            self.fail(column, "missing; this row needs it")
        value = self.values[column]
        # bool is a subclass of int: true is not a number here.
        if type(value) is not kind:
            self.fail(column, f"{_shown(value)} is not {what}")
        return value

    def text(self, column: str, default: str | None = None) -> str:
        """A string, not blank; ``default`` when the column is left out (required when None)."""
        if default is not None and column not in self.values:
            return default
        value = str(self._value(column, str, "a string (between double quotes)"))
        self.check(
            value.strip() != "",
            column,
            "empty; " + ("give a value" if default is None else "leave the column out instead"),
        )
        return value

    def integer(self, column: str, default: int | None = None) -> int:
        """A whole number; ``default`` when the column is left out (required when None)."""
        if default is not None and column not in self.values:
            return default
        value = self._value(column, int, "a whole number")
        assert isinstance(value, int)
        return value

    def flag(self, column: str, default: bool) -> bool:
        """``true`` or ``false``; ``default`` when the column is left out."""
        if column not in self.values:
            return default
        return bool(self._value(column, bool, "true or false"))

    def texts(self, column: str) -> tuple[str, ...]:
        """A list of strings, none blank; empty when the column is left out."""
        if column not in self.values:
            return ()
        items = self._value(column, list, 'a list of strings, such as ["a", "b"]')
        assert isinstance(items, list)
        for item in items:
            self.check(isinstance(item, str) and item.strip() != "", column, f"{item!r} is not a string")
        return tuple(str(item) for item in items)

    def scores(self, column: str) -> dict[str, int]:
        """An inline table of whole numbers by name, such as ``{ quality = 5 }``."""
        table = self._value(column, dict, "a table of numbers, such as { quality = 5 }")
        assert isinstance(table, dict)
        for name, value in table.items():
            self.check(type(value) is int, column, f"{name} = {value!r} is not a whole number")
        return {str(name): int(value) for name, value in table.items()}


def _shown(value: object) -> str:
    """A value as the table writes it, near enough: ``true``, ``'text'``, ``18``."""
    return str(value).lower() if isinstance(value, bool) else repr(value)


def _header_lines(text: str, name: str) -> list[int]:
    header = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
    return [number for number, line in enumerate(text.splitlines(), start=1) if header.match(line)]


def read_table(folder: Traversable | Path, file: str, name: str, columns: Collection[str]) -> list[Row]:
    """The ``[[name]]`` rows of ``folder/file``, in order, each holding only known ``columns``."""
    path = folder.joinpath(file)
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DemoDataError(f"{shown}: no such file; the demo needs this table") from None
    except UnicodeDecodeError as exc:
        raise DemoDataError(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DemoDataError(f"{shown}: not valid TOML: {exc}") from None
    others = sorted(set(document) - {name})
    if others:
        raise DemoDataError(f"{shown}: holds {others[0]!r}; only [[{name}]] rows belong in this table")
    entries = document.get(name, [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise DemoDataError(f"{shown}: {name!r} must be rows, each starting with a [[{name}]] line")
    lines = _header_lines(text, name)
    if len(lines) != len(entries):  # rows written another way (an inline array): no line numbers
        lines = [0] * len(entries)
    rows = [
        Row(shown, number, line, entry)
        for number, (line, entry) in enumerate(zip(lines, entries, strict=True), start=1)
    ]
    for row in rows:
        for column in row.values:
            if column not in columns:
                row.fail(column, f"not a column of this table ({', '.join(columns)})")
    return rows
