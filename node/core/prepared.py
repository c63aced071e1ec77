"""Statements of hot paths, compiled once per database and run on the driver's cursor: the time bank's
ledger (a transfer), the clock events of telemanagement (a check-in or check-out and its link in the
clock log).

A transfer inside the node is four short statements (both balances, the transfer, its two entries,
the payee's notification); through SQLAlchemy's execution each costs about as much Python as a bare
insert does, which kept a transfer at a fifth of the physical limit on SQLite (``bench/timebank.py``).
Here a Core statement (an ``INSERT``, an ``UPDATE``, or a ``SELECT`` given all its parameters) is
compiled once for the connection's dialect and for the set of keys given (an ``INSERT`` names only
those), and each run binds its parameters (through the column types' bind
processors, so datetimes are stored exactly as SQLAlchemy stores them) and calls the DB-API cursor of
the session's own connection: the same transaction, none of the per-statement machinery. A key the
statement needs but the caller did not give takes the column's scalar default, else NULL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert, UpdateBase
from sqlalchemy.types import TypeEngine
from sqlmodel import Session

_DRIVER = "asasap.driver"


def driver(session: Session) -> tuple[Dialect, Any]:
    """The dialect and DB-API connection of the session's transaction, looked up once per transaction
    (``Session.connection()`` walks the session's transaction machinery on every call)."""
    transaction = session.get_transaction()
    cached = session.info.get(_DRIVER)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1], cached[2]
    connection: Connection = session.connection()
    found = (session.get_transaction(), connection.dialect, connection.connection.dbapi_connection)
    session.info[_DRIVER] = found
    return found[1], found[2]


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]
    positional: bool
    processors: dict[str, Callable[[Any], Any]]
    defaults: dict[str, Any]
    # Each parameter in order: its name, its processor (or None), its default: bound in one pass.
    steps: tuple[tuple[str, Callable[[Any], Any] | None, Any], ...] = ()


class Prepared:
    """A Core ``INSERT``/``UPDATE``/``SELECT`` run at the driver level (see the module docs); the rows
    it gives back are the driver's tuples, unconverted (:func:`result_processor`)."""

    def __init__(self, statement: UpdateBase | Select[Any]) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, frozenset[str]], _Plan] = {}

    def _plan(self, dialect: Dialect, keys: frozenset[str]) -> _Plan:
        found = self._plans.get((dialect.name, keys))
        if found is not None:
            return found
        column_keys = sorted(keys) if isinstance(self.statement, Insert) else None
        compiled = self.statement.compile(dialect=dialect, column_keys=column_keys)
        names = tuple(compiled.positiontup or ()) if dialect.positional else tuple(compiled.binds)
        processors: dict[str, Callable[[Any], Any]] = {}
        defaults: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
            if name not in keys:
                column = getattr(self.statement, "table").c.get(name)  # noqa: B009 - typed as a FromClause
                default = getattr(column, "default", None)
                defaults[name] = default.arg if default is not None and default.is_scalar else None
        order = names if dialect.positional else tuple(dict.fromkeys(names))
        steps = tuple((name, processors.get(name), defaults.get(name)) for name in order)
        plan = _Plan(compiled.string, names, dialect.positional, processors, defaults, steps)
        self._plans[(dialect.name, keys)] = plan
        return plan

    def _bound(self, plan: _Plan, params: Mapping[str, Any]) -> Any:
        get = params.get
        if plan.positional:
            return tuple(
                (processor(get(name, default)) if processor else get(name, default))
                for name, processor, default in plan.steps
            )
        return {
            name: (processor(get(name, default)) if processor else get(name, default))
            for name, processor, default in plan.steps
        }

    def run(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run once with ``params``; the rows of its ``RETURNING`` clause (or of the ``SELECT``), if any."""
        dialect, dbapi = driver(session)
        plan = self._plan(dialect, frozenset(params))
        cursor = dbapi.cursor()
        try:
            cursor.execute(plan.sql, self._bound(plan, params))
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def run_many(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row (rows with the same keys), without ``RETURNING``."""
        dialect, dbapi = driver(session)
        plan = self._plan(dialect, frozenset(rows[0]))
        cursor = dbapi.cursor()
        try:
            cursor.executemany(plan.sql, [self._bound(plan, row) for row in rows])
        finally:
            cursor.close()


def fetch_all(session: Session, query: Select[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``query`` as the driver gives them, in the session's transaction: its parameters
    bound through their types' processors, its results left as they are (no row objects, no result
    processing: the caller converts the few values it needs; a statement reads a hundred thousand)."""
    dialect, dbapi = driver(session)
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})  # IN lists
    values = compiled.construct_params()
    for name, bind in compiled.binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None and name in values:
            values[name] = processor(values[name])
    params = tuple(values[name] for name in compiled.positiontup or ()) if dialect.positional else values
    cursor = dbapi.cursor()
    try:
        cursor.execute(compiled.string, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def result_processor(session: Session, type_: TypeEngine[Any]) -> Callable[[Any], Any]:
    """How the session's database gives a value of ``type_`` back as SQLAlchemy would (for
    :func:`fetch_all`'s raw values)."""
    dialect, _ = driver(session)
    processor = type_.dialect_impl(dialect).result_processor(dialect, None)
    return processor if processor is not None else (lambda value: value)
