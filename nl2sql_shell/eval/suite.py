"""The benchmark suite on disk (defog sql-eval layout) and fresh copies of its databases.

A suite folder holds ``questions.csv`` (question, gold query, db_name, query_category,
instructions), optionally ``idk.csv`` (questions the schema cannot answer; the gold is a
refusal query), and ``dbs/<db>.sql`` plain dumps with ``dbs/<db>.json`` column descriptions.

Databases are dropped and re-created before each run rather than reused: several dumps
compute dates from CURRENT_DATE, so a database loaded yesterday answers date questions
differently from the gold queries run today.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import sys
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo


class SuiteError(ValueError):
    """A suite folder that cannot be read as one: the message is one line naming the file."""


_COLUMNS = ("question", "query", "db_name")


@dataclass(frozen=True)
class Question:
    """One benchmark item; ``gold`` is the raw cell (alternatives by ``;``, ``{a, b}`` subsets)."""

    index: int  # 0-based row number in its csv, stable across filtering
    question: str
    gold: str
    db_name: str
    category: str
    instructions: str = ""


@dataclass(frozen=True)
class Database:
    """A benchmark database: its dump and the column descriptions that ship with it."""

    name: str
    dump: Path
    descriptions: Path | None


@dataclass(frozen=True)
class Suite:
    root: Path
    questions: tuple[Question, ...]
    idk: tuple[Question, ...]  # empty when the suite has no idk.csv
    databases: tuple[Database, ...]

    def database(self, name: str) -> Database:
        for db in self.databases:
            if db.name == name:
                return db
        raise KeyError(f"no database {name!r} in {self.root}")

    def select(
        self,
        *,
        db: str | Collection[str] | None = None,
        category: str | Collection[str] | None = None,
        limit: int | None = None,
    ) -> Suite:
        """The suite restricted to some databases/categories, then to the first ``limit`` of each list.

        Only the databases the remaining questions need are kept, so a caller loads no more.
        """
        questions = select(self.questions, db=db, category=category, limit=limit)
        idk = select(self.idk, db=db, category=category, limit=limit)
        needed = {q.db_name for q in (*questions, *idk)}
        return replace(self, questions=questions, idk=idk, databases=tuple(d for d in self.databases if d.name in needed))


def _as_set(value: str | Collection[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)


def select(
    questions: Iterable[Question],
    *,
    db: str | Collection[str] | None = None,
    category: str | Collection[str] | None = None,
    limit: int | None = None,
) -> tuple[Question, ...]:
    """Questions of the given database(s) and category(ies), at most ``limit`` of them, in file order."""
    dbs, categories = _as_set(db), _as_set(category)
    kept = [
        q for q in questions
        if (dbs is None or q.db_name in dbs) and (categories is None or q.category in categories)
    ]
    return tuple(kept if limit is None else kept[:limit])


def _read_questions(path: Path) -> tuple[Question, ...]:
    """The file's questions (a spreadsheet's byte-order mark and CRLF lines are fine);
    SuiteError for anything else than a CSV with the question, query and db_name columns."""
    csv.field_size_limit(min(sys.maxsize, 1 << 30))  # a long gold query or instruction is a field too
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [name for name in _COLUMNS if name not in (reader.fieldnames or ())]
            if missing:
                raise SuiteError(f"{path}: no {', '.join(missing)} column (a header line with {', '.join(_COLUMNS)} is needed)")
            questions = []
            for i, row in enumerate(reader):
                if any(row.get(name) is None for name in _COLUMNS):
                    raise SuiteError(f"{path}: line {reader.line_num}: fewer fields than the header names (an unclosed quote?)")
                if not row["query"].strip():  # (told before a model loads, not when its question comes up)
                    raise SuiteError(f"{path}: line {reader.line_num}: the query cell is empty")
                questions.append(
                    Question(index=i, question=row["question"], gold=row["query"], db_name=row["db_name"], category=row.get("query_category") or "", instructions=row.get("instructions") or "")
                )
            return tuple(questions)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SuiteError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None


def load_suite(path: str | Path) -> Suite:
    """Read a suite folder; every question's database must have a dump under ``dbs/``."""
    root = Path(path)
    questions = _read_questions(root / "questions.csv")
    idk_path = root / "idk.csv"
    idk = _read_questions(idk_path) if idk_path.exists() else ()
    databases = tuple(
        Database(dump.stem, dump, dump.with_suffix(".json") if dump.with_suffix(".json").exists() else None)
        for dump in sorted((root / "dbs").glob("*.sql"))
    )
    missing = {q.db_name for q in (*questions, *idk)} - {d.name for d in databases}
    if missing:
        raise SuiteError(f"{root}: no dump in dbs/ for database(s) {', '.join(sorted(missing))}")
    for database in databases:  # PostgreSQL cuts a longer name: two dumps would load into one database, or replace another's
        if len(database.name.encode()) > MAX_NAME_BYTES:
            raise SuiteError(f"{database.dump}: a database name longer than {MAX_NAME_BYTES} bytes")
    return Suite(root, questions, idk, databases)


def column_descriptions(json_path: str | Path) -> dict[str, dict[str, str]]:
    """``{table: {column: description}}`` from a defog ``<db>.json`` (empty descriptions left out)."""
    try:
        metadata = json.loads(Path(json_path).read_text(encoding="utf-8"))["table_metadata"]
        described = {
            table: {c["column_name"]: c["column_description"] for c in columns if c.get("column_description")}
            for table, columns in metadata.items()
        }
        for table, columns in described.items():
            for column, text in columns.items():
                if not all(isinstance(value, str) for value in (table, column, text)):
                    raise TypeError(f"{table}.{column}: names and descriptions are strings")
        return described
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SuiteError(f"{json_path}: not column descriptions in defog's layout ({exc.__class__.__name__}: {exc})") from None


def admin_connection(conninfo: str, dbname: str | None = None) -> psycopg.Connection:
    """The admin's session (autocommit) with the search_path pinned to pg_catalog: a database a
    suite left behind (or anyone's) may set a search_path whose operators run in eval's own
    catalog queries, as the superuser; and the session user's own role, not one its options set."""
    conn = psycopg.connect(make_conninfo(conninfo, dbname=dbname) if dbname else conninfo, autocommit=True)
    conn.execute("SET search_path = pg_catalog, pg_temp")
    conn.execute("SET ROLE NONE")  # (RESET ROLE would go back to a role its options set)
    return conn


def load_database(
    admin_conninfo: str,
    db_name: str,
    dump_path: str | Path,
    conninfo_for: Callable[[str], str],
    *,
    comments: bool = True,
    owner: str | None = None,
) -> str:
    """Drop and re-create ``db_name`` (owned by ``owner``, whom ``conninfo_for`` connects
    as), load its dump and return its conninfo.

    With ``comments`` the descriptions of ``<dump>.json`` (when present) become column
    comments, as a real user database would carry them, so schema introspection sees them.
    """
    dump_path = Path(dump_path)
    name = sql.Identifier(db_name)
    with admin_connection(admin_conninfo) as admin:
        if not admin.execute("SELECT rolsuper OR rolcreatedb FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user").fetchone()[0]:
            raise SuiteError(f"cannot create the database {db_name} (the user needs CREATEDB): nothing was dropped")
        _refuse_foreign(admin, db_name, dump_path)
        # what a suite may have done to its database last time, which would keep it from being dropped
        for undo in ("ALTER DATABASE {} IS_TEMPLATE false", "ALTER DATABASE {} CONNECTION LIMIT -1"):
            with contextlib.suppress(psycopg.Error):
                admin.execute(sql.SQL(undo).format(name))
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name) + (sql.SQL(" OWNER {}").format(sql.Identifier(owner)) if owner else sql.SQL("")))
        admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(name, sql.Literal(MADE_BY)))
    conninfo = conninfo_for(db_name)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        _run_dump(conn, conninfo, dump_path)
    descriptions = dump_path.with_suffix(".json")
    if comments and descriptions.exists():
        with psycopg.connect(conninfo, autocommit=True) as conn:  # (the dump may have set a search_path)
            _comment_columns(conn, column_descriptions(descriptions))
    return conninfo


MAX_NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1
MADE_BY = "made by nl2sql-shell eval, which drops it and makes it again at each run"
_SYSTEM_DATABASES = frozenset({"postgres", "template0", "template1"})


def _refuse_foreign(admin: psycopg.Connection, db_name: str, dump_path: Path) -> None:
    """A database of the dump's name that eval did not make (its MADE_BY comment) is not
    dropped, nor the server's own or the session's: a suite's file names are data, and
    `dbs/template1.sql` dropped the server's template, `dbs/postgres.sql` its default
    database, any other name a user's database of that name."""
    row = admin.execute(
        "SELECT pg_catalog.shobj_description(d.oid, 'pg_database') IS NOT DISTINCT FROM %s, d.datistemplate, d.datname = pg_catalog.current_database()"
        " FROM pg_catalog.pg_database d WHERE d.datname = %s",
        (MADE_BY, db_name),
    ).fetchone()
    if row is None:
        return
    ours, template, current = row
    if db_name in _SYSTEM_DATABASES or current or not ours:
        what = "the server's own" if db_name in _SYSTEM_DATABASES or current else "a template" if template else "not marked as eval's"
        raise SuiteError(f"{dump_path}: a database {db_name} exists that eval did not make ({what}): drop or rename it, or the dump; nothing was dropped")


# pg_dump's plain format holds these around its SQL (since PostgreSQL 17.6, 16.10, 15.14)
DUMP_META_COMMANDS = frozenset({"\\restrict", "\\unrestrict"})


def _run_dump(conn: psycopg.Connection, conninfo: str, path: Path) -> None:
    """Load a dump as `psql -1 -v ON_ERROR_STOP=1 -f` loads it, so that pg_dump's plain format
    (COPY data after its statement, `\\restrict KEY`) loads as well as plain SQL. A suite is
    data: no other meta-command runs (`\\!`, `\\copy ... program`, `\\o`, `\\c`), and the
    first error stops the load (a half-loaded database would score questions wrong), told in
    one line: ``FILE:LINE: ERROR: ...`` as psql tells it."""
    import io

    from nl2sql_shell.db.connect import Target
    from nl2sql_shell.output import Output
    from nl2sql_shell.repl.script import read_script, run_script
    from nl2sql_shell.repl.shell import ConnectionLost, Shell, StopScript

    try:
        dump = read_script(path)  # read in the client encoding its own SET client_encoding names, as psql
    except OSError as exc:
        raise SuiteError(f"{path}: {exc.strerror or exc}") from None
    errors = io.StringIO()
    shell = Shell(Target(conninfo), conn, interactive=False, output=Output(io.StringIO()), errors=errors, meta_allowed=DUMP_META_COMMANDS)
    shell.variables.update(ON_ERROR_STOP="on", QUIET="on")
    conn.execute("BEGIN")  # psql's -1: all or nothing, and one commit for all its statements
    try:
        run_script(shell, dump, str(path))
        conn.execute("COMMIT")
    except (StopScript, ConnectionLost):  # (a dump that ends its own session: libpq's words)
        said = [line.removeprefix("nl2sql-shell:") for line in errors.getvalue().splitlines() if line.strip()]
        told = re.compile(rf"{re.escape(str(path))}:\d+: (?:ERROR|FATAL|error): ")  # (not a NOTICE that holds those words)
        raise SuiteError(next((line for line in said if told.match(line)), said[-1] if said else "failed")) from None


def _comment_columns(conn: psycopg.Connection, descriptions: dict[str, dict[str, str]]) -> None:
    """COMMENT ON COLUMN for the described columns that exist (the json may list stale ones).

    A table is named as a query would name it: ``invoices`` on the search_path, or
    ``billing.invoices`` in any schema.
    """
    found: dict[tuple[str, str], tuple[str, str]] = {}
    rows = conn.execute(
        "SELECT table_schema, table_name, column_name, table_schema = ANY(current_schemas(false))"
        " FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        " ORDER BY array_position(current_schemas(false), table_schema::name) DESC NULLS FIRST"
    ).fetchall()
    for schema, table, column, on_path in rows:  # the first schema on the path is read last and wins
        found[(f"{schema}.{table}", column)] = (schema, table)
        if on_path:
            found[(table, column)] = (schema, table)
    with conn.transaction():
        for table, columns in descriptions.items():
            for column, text in columns.items():
                if (table, column) in found:
                    conn.execute(
                        sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                            sql.Identifier(*found[(table, column)]), sql.Identifier(column), sql.Literal(text)
                        )
                    )
