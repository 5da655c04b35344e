"""Training pairs from a benchmark suite (eval's layout): each question shown with exactly the
schema the shell's prompt shows for it on its live database, answered with its gold query.

sql-create-context pairs are one or two tables with plain names; the shell's prompts hold up to
a budget of linked tables with comments and sample values, and an adapter trained on the former
did not help on the latter (docs/benchmarks.md, eleventh session). A suite's questions rendered
by the pipeline itself (`Asker.schema_text`) are prompts like the users'. Any folder of
questions and dumps laid out as ../shared/bench/defog-dev is a suite, so a team can train on
question/SQL pairs of its own database the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg

from nl2sql_shell.db.embedded import EmbeddedServerError
from nl2sql_shell.eval.runner import ServerBusy, SuiteRoleError, claim_server, suite_server
from nl2sql_shell.eval.scoring import expand_column_subsets, split_statements
from nl2sql_shell.eval.suite import Question, Suite, SuiteError, load_database, load_suite
from nl2sql_shell.finetune.data import DataError, Pair, spread
from nl2sql_shell.llm.model import Model
from nl2sql_shell.nl2sql.pipeline import Asker
from nl2sql_shell.nl2sql.prompt import REFUSAL_SQL


def is_suite(path: Path) -> bool:
    """A folder with questions.csv and dbs/: eval's layout."""
    return path.is_dir() and (path / "questions.csv").is_file() and (path / "dbs").is_dir()


def suite_answers(root: Path, *, limit: int | None = None, refusals: float = 0.0) -> tuple[Suite, list[tuple[Question, str]]]:
    """The questions to train on and their answers, read and checked (before any model loads:
    a broken suite is told in seconds, not after the load)."""
    try:
        suite = load_suite(root)
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{root}: not a benchmark suite ({exc})") from None
    if not 0 <= refusals <= 1:
        raise DataError(f"--refusals must be in [0, 1], got {refusals}")
    questions = spread(suite.questions, limit)
    unanswerable = spread(suite.idk, round(len(questions) * refusals))
    answers = [(q, _training_answer(q.gold)) for q in questions] + [(q, REFUSAL_SQL) for q in unanswerable]
    if not answers:
        raise DataError(f"{root}: no questions in the suite")
    return suite, answers


def suite_pairs(
    root: Path,
    model: Model,
    *,
    limit: int | None = None,
    refusals: float = 0.0,
    dsn: str | None = None,
    progress: Callable[[str], None] = print,
) -> list[Pair]:
    """The suite's questions (or `limit` of them, spread evenly) with their gold queries, and
    `refusals` as many of its idk.csv questions answered with the refusal, each on the schema
    text the shell would show for it.

    The databases are loaded as eval loads them (fresh copies on the embedded server, or on
    `dsn`), so linking, comments and sample values are those of a real run.
    """
    suite, answers = suite_answers(root, limit=limit, refusals=refusals)
    asker = Asker(model)
    try:
        server = suite_server(dsn)
    except EmbeddedServerError as exc:
        raise DataError(f"{root}: no server to load the suite's databases into: {exc}") from None
    name = ""
    try:
        with claim_server(server.admin):
            try:
                server = server.with_role()
            except SuiteRoleError as exc:
                raise DataError(str(exc)) from None
            conninfos = {}
            for name in sorted({q.db_name for q, _ in answers}):
                progress(f"loading database {name}")
                conninfos[name] = load_database(server.admin, name, suite.database(name).dump, server.conninfo_for, owner=server.role)
            pairs = []
            for name, conninfo in conninfos.items():
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    pairs += [
                        Pair(q.question, asker.schema_text(q.question, conn, q.instructions or None), answer, q.instructions)
                        for q, answer in answers if q.db_name == name
                    ]
    except (psycopg.Error, ServerBusy, SuiteError) as exc:
        raise DataError(f"{root}: database {name or '(server)'}: {str(exc).splitlines()[0]}") from None
    finally:
        server.stop()
    return pairs


def _training_answer(gold: str) -> str:
    """The gold cell as one query to learn: its first alternative, with every column of a
    ``{a, b}`` choice (the fullest answer an analyst would write)."""
    first = split_statements(gold)[0]
    return expand_column_subsets(first)[-1]
