"""Run a benchmark suite through exactly the `?` pipeline and score the answers.

No eval-only shortcuts: each question goes to `Asker.ask` with its `instructions` as the hint
a person would add, on a freshly loaded copy of its database. Several prompt styles can be
run over the same questions with the same loaded model, so a difference between them is a
difference measured in one run.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from nl2sql_shell.bench.memory import peak_memory
from nl2sql_shell.config import open_private
from nl2sql_shell.db.cells import visible
from nl2sql_shell.eval.scoring import GoldQueryError, Verdict, check_gold, connect, score
from nl2sql_shell.eval.suite import Question, Suite, admin_connection, load_database
from nl2sql_shell.llm.openai_backend import ModelServerError
from nl2sql_shell.nl2sql.check import JOIN_ERRORS
from nl2sql_shell.nl2sql.extract import is_refusal
from nl2sql_shell.nl2sql.pipeline import Answer, Asker, Options

_EVAL_LOCK = 0x6E6C3273716C  # "nl2sql": the advisory lock key every eval takes on its server


class ServerBusy(RuntimeError):
    """Another eval holds the server whose databases this one would re-create."""


_SERVER_GONE = 3  # model server failures in a row that end a run: the server went away, not one bad question


class ModelServerGone(RuntimeError):
    """The model server failed _SERVER_GONE questions in a row (connection refused): the rest
    of the run would score its absence, a near-zero accuracy reported as a finished run."""


def claim_server(admin_conninfo: str) -> psycopg.Connection:
    """A session holding this server's eval lock; closing it gives the server up.

    Loading a suite drops and re-creates its databases (and each run takes eval's role back),
    which would pull them from under another eval on the same server (every run shares the
    embedded one), so a second run stops with ServerBusy before it loads a model or touches a
    database. An advisory lock is one database's: it is taken in `postgres`, whatever
    database --dsn names, where the admin can reach it."""
    try:
        claim = admin_connection(admin_conninfo, "postgres")
    except psycopg.OperationalError:
        claim = admin_connection(admin_conninfo)
    if not claim.execute("SELECT pg_catalog.pg_try_advisory_lock(%s::pg_catalog.int8)", (_EVAL_LOCK,)).fetchone()[0]:
        claim.close()
        raise ServerBusy("another eval is using this server's copies of the suite's databases: wait for it to end, or give --dsn another server")
    return claim


FAILURE_CLASSES = ("correct", "did not parse", "unknown table/column", "server error", "wrong result", "abstained", "no SQL", "pipeline error")


@dataclass
class Record:
    """One question's outcome, written as a JSONL line."""

    style: str
    suite: str  # "questions" or "idk"
    index: int
    db: str
    category: str
    question: str
    sql: str | None
    verdict: str  # one of FAILURE_CLASSES, or "refused"/"no valid query"/"answered" for idk questions
    correct: bool
    reason: str
    seconds: float
    first_token_s: float
    prompt_tokens: int
    generated_tokens: int
    attempts: int
    rules: list[str] = field(default_factory=list)  # correction rules that fired on the chosen query
    uncorrected_correct: bool | None = None  # the chosen query as the model wrote it, scored too
    proven: bool | None = None  # the answer's SQL proven harmless (runs on Enter); None: no query to run
    greedy_alone: bool = False  # the greedy query passed, so no samples were written (Options.greedy_first)
    greedy_correct: bool | None = None  # the greedy query alone, scored too (when it passed the checks): what the vote added
    second_try: str | None = None  # how the chosen query was written after the greedy one failed (pipeline.SecondTry)


@dataclass
class Summary:
    style: str
    total: int = 0
    correct: int = 0
    by_category: dict[str, list[int]] = field(default_factory=dict)
    by_db: dict[str, list[int]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    idk_total: int = 0
    idk_refused: int = 0
    idk_unanswered: int = 0  # no valid query: nothing offered to run, yet no refusal either
    false_refusals: int = 0
    latency_p50_s: float = 0.0
    latency_p95_s: float = 0.0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    tokens_per_s: float = 0.0
    rules: dict[str, list[int]] = field(default_factory=dict)  # rule -> [fired, helped, hurt]
    proven: list[int] = field(default_factory=lambda: [0, 0])  # [proven, answers with a query to run]

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def classify_failure(answer: Answer, correct: bool, run_error: str | None) -> str:
    """Why an answer was wrong, in the classes users ask about."""
    if correct:
        return "correct"
    if answer.kind == "refusal":
        return "abstained"
    if answer.sql is None:
        return "no SQL"
    if answer.kind == "failed":  # every attempt was rejected: by the last one's errors
        if all(a.sql is None for a in answer.attempts):
            return "no SQL"
        errors = " ".join(answer.attempts[-1].errors)
        if "syntax error" in errors:
            return "did not parse"
        if "does not exist" in errors:
            return "unknown table/column"
        if any(reason in errors for reason in JOIN_ERRORS):
            return "wrong result"  # it would run, pairing every row with every other
        return "server error"
    return "server error" if run_error else "wrong result"


class Runner:
    """Holds the server, the loaded model and one connection per loaded database."""

    def __init__(self, suite: Suite, model, *, server: SuiteServer, options: Options) -> None:
        self.suite = suite
        self.model = model
        self.server = server
        self.options = options
        self.conninfos: dict[str, str] = {}

    def load_databases(self, progress: Callable[[str], None]) -> None:
        """Fresh copies right before the run: several dumps compute dates from CURRENT_DATE."""
        for database in self.suite.databases:
            progress(f"loading database {database.name}")
            self.conninfos[database.name] = load_database(self.server.admin, database.name, database.dump, self.server.conninfo_for, owner=self.server.role)

    def check_gold(self, progress: Callable[[str], None]) -> None:
        """Every answerable question's gold runs (GoldQueryError names the first that does not),
        checked before the model loads: the alternative was a run stopping on it hours in."""
        progress("checking the gold queries")
        for database, questions in itertools.groupby(sorted(self.suite.questions, key=lambda q: q.db_name), key=lambda q: q.db_name):
            with connect(self.conninfos[database]) as conn:
                for question in questions:
                    try:
                        check_gold(conn, question.gold, run_unproven=self.server.role is not None)
                    except GoldQueryError as exc:
                        raise GoldQueryError(f"question {question.index + 1} of questions.csv ({database}): {_first_line(exc)}") from None

    def run(self, style: str, on_record: Callable[[Record], None]) -> list[Record]:
        options = Options(**{**asdict(self.options), "prompt_style": style})
        asker = Asker(self.model, options)
        records: list[Record] = []
        work = [("questions", q) for q in self.suite.questions] + [("idk", q) for q in self.suite.idk]
        work.sort(key=lambda item: item[1].db_name)  # same schema back to back: the prefix cache hits
        connections: dict[str, psycopg.Connection] = {}
        unreached = 0  # model server failures in a row
        try:
            for part, question in work:
                conn = connections.get(question.db_name)
                if conn is None:
                    conn = connections[question.db_name] = psycopg.connect(self.conninfos[question.db_name], autocommit=True)
                record = self._one(asker, conn, part, question, style)
                records.append(record)
                on_record(record)
                unreached = unreached + 1 if record.reason.startswith(f"{ModelServerError.__name__}: ") else 0
                if unreached == _SERVER_GONE:
                    raise ModelServerGone(record.reason.partition(": ")[2])
                if conn.closed or conn.broken:
                    del connections[question.db_name]  # the server dropped it: reconnect for the next
        finally:
            for conn in connections.values():
                conn.close()
        return records

    def _one(self, asker: Asker, conn: psycopg.Connection, part: str, question: Question, style: str) -> Record:
        started = time.perf_counter()
        try:
            answer = asker.ask(question.question, conn, hint=question.instructions or None)
            crash = None
        except Exception as exc:  # noqa: BLE001 - one question's failure must not end an hours-long run
            answer = Answer(question.question, None, "failed", "")
            crash = f"{exc.__class__.__name__}: {_first_line(exc)}"
        seconds = time.perf_counter() - started
        refused = answer.kind == "refusal" or (answer.sql is not None and is_refusal(answer.sql))
        chosen = next((a for a in answer.attempts if a.chosen), None)
        fired = sorted({change.rule for change in chosen.changes}) if chosen is not None else []
        uncorrected: bool | None = None
        if crash is not None:
            verdict, correct, reason = "pipeline error", False, crash
        elif part == "idk":
            verdict = "refused" if refused else "no valid query" if answer.kind == "failed" else "answered"
            correct, reason = refused, answer.reason
        elif answer.sql is None or refused:
            correct = False
            verdict = classify_failure(answer, False, None)
            reason = answer.reason
        else:
            try:
                result = self._score(answer.sql, question)
            except GoldQueryError as exc:
                raise SystemExit(f"the suite's gold query fails on {question.db_name}: {_first_line(exc)}") from None
            correct = result.correct
            verdict = classify_failure(answer, result.correct, result.error)
            reason = result.reason
            if fired and chosen is not None and chosen.written is not None:
                uncorrected = self._score_uncorrected(chosen.written, question)
        greedy = answer.attempts[0] if answer.attempts else None
        greedy_correct = None
        if part == "questions" and crash is None and greedy is not None and greedy.sql is not None and not greedy.errors and not is_refusal(greedy.sql):
            greedy_correct = correct if greedy.sql == answer.sql else self._score_uncorrected(greedy.sql, question)
        return Record(
            style=style,
            suite=part,
            index=question.index,
            db=question.db_name,
            category=question.category,
            question=question.question,
            sql=answer.sql,
            verdict=verdict,
            correct=correct,
            reason=reason,
            seconds=seconds,
            first_token_s=answer.timings.get("first_token_s", 0.0),
            prompt_tokens=answer.prompt_tokens,
            generated_tokens=answer.generated_tokens,
            attempts=len(answer.attempts),
            rules=fired,
            uncorrected_correct=uncorrected,
            proven=answer.proven if answer.kind in ("read", "write") else None,
            greedy_alone=answer.greedy_alone,
            second_try=chosen.second_try if chosen is not None else None,
            greedy_correct=greedy_correct,
        )

    def _score_uncorrected(self, sql: str, question: Question) -> bool | None:
        """Whether another query for the question was right too: the query as the model wrote
        it (before the rules: did a correction help or hurt?), or the greedy one alone."""
        try:
            return self._score(sql, question).correct
        except GoldQueryError:
            return None

    def _score(self, sql: str, question: Question) -> Verdict:
        return score(sql, question.gold, self.conninfos[question.db_name], question=question.question, category=question.category, run_unproven=self.server.role is not None)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def summarize(style: str, records: Iterable[Record]) -> Summary:
    summary = Summary(style)
    by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_db: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    failures: Counter[str] = Counter()
    rules: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    latencies: list[float] = []
    generate_seconds = 0.0
    for record in records:
        latencies.append(record.seconds)
        if record.proven is not None:
            summary.proven[0] += record.proven
            summary.proven[1] += 1
        summary.prompt_tokens += record.prompt_tokens
        summary.generated_tokens += record.generated_tokens
        generate_seconds += record.seconds
        if record.suite == "idk":
            summary.idk_total += 1
            summary.idk_refused += record.correct
            summary.idk_unanswered += record.verdict == "no valid query"
            continue
        summary.total += 1
        summary.correct += record.correct
        failures[record.verdict] += 1
        summary.false_refusals += record.verdict == "abstained"
        for rule in record.rules:
            counts = rules[rule]
            counts[0] += 1
            if record.uncorrected_correct is not None:
                counts[1] += record.correct and not record.uncorrected_correct
                counts[2] += record.uncorrected_correct and not record.correct
        for table, key in ((by_category, record.category), (by_db, record.db)):
            table[key][0] += record.correct
            table[key][1] += 1
    summary.by_category, summary.by_db, summary.failures = dict(by_category), dict(by_db), dict(failures)
    summary.rules = dict(sorted(rules.items()))
    if latencies:
        ordered = sorted(latencies)
        summary.latency_p50_s = statistics.median(ordered)
        summary.latency_p95_s = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    summary.tokens_per_s = summary.generated_tokens / generate_seconds if generate_seconds else 0.0
    return summary


def report(summaries: list[Summary], load_seconds: float, out=sys.stdout) -> None:
    """The table people read first: accuracy, failure classes, abstention, speed."""
    for s in summaries:
        out.write(f"\n== prompt style: {s.style} ==\n")
        if s.total:
            out.write(f"accuracy: {s.correct}/{s.total} = {100 * s.accuracy:.1f}%\n")
            out.write(visible("by category: " + ", ".join(f"{k} {c}/{n}" for k, (c, n) in sorted(s.by_category.items()))) + "\n")  # (a suite's words)
            out.write(visible("by database: " + ", ".join(f"{k} {c}/{n}" for k, (c, n) in sorted(s.by_db.items()))) + "\n")
            out.write("outcomes: " + ", ".join(f"{k} {s.failures.get(k, 0)}" for k in FAILURE_CLASSES) + "\n")
            out.write(f"refused answerable questions: {s.false_refusals}/{s.total} = {100 * s.false_refusals / s.total:.1f}%\n")
            if s.rules:
                counts = ", ".join(f"{rule} {fired}/{helped}/{hurt}" for rule, (fired, helped, hurt) in s.rules.items())
                out.write(f"corrections fired/helped/hurt (against the query as written): {counts}\n")
        if s.idk_total:
            answered = s.idk_total - s.idk_refused - s.idk_unanswered
            out.write(
                f"rightly refused (idk): {s.idk_refused}/{s.idk_total} = {100 * s.idk_refused / s.idk_total:.1f}%"
                f" (no valid query, nothing to run: {s.idk_unanswered}; answered: {answered})\n"
            )
        if s.proven[1]:
            out.write(f"answers proven harmless (run on Enter): {s.proven[0]}/{s.proven[1]}\n")
        out.write(
            f"latency p50 {s.latency_p50_s:.2f} s, p95 {s.latency_p95_s:.2f} s; tokens: {s.prompt_tokens} prompt, "
            f"{s.generated_tokens} generated, {s.tokens_per_s:.1f} generated/s overall\n"
        )
    out.write(f"model load {load_seconds:.1f} s; {peak_memory()}\n")


class ResultsFile:
    """results.jsonl, one line per question as soon as it is scored: a long run can be followed
    with `tail -f`, and one stopped halfway keeps what it measured. The last run's file is
    replaced only when this one has a result to write (a run that stops before keeps it).
    Like summary.json it is opened as the shell's private files are: a link another user
    planted in a shared --out folder is not followed (root's eval overwrote where it pointed)."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / "results.jsonl"
        self._handle: IO[str] | None = None

    def write(self, record: Record) -> None:
        if self._handle is None:
            self._handle = os.fdopen(open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, own=True), "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            (self.path.parent / "summary.json").unlink(missing_ok=True)  # the last run's, of results now gone
        self._handle.write(json.dumps(asdict(record)) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def write_summary(out_dir: Path, summaries: list[Summary], meta: dict) -> Path:
    path = out_dir / "summary.json"
    payload = {**meta, "styles": [{**asdict(s), "accuracy": s.accuracy} for s in summaries], "peak_memory": peak_memory()}
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, own=True), "w", encoding="utf-8") as handle:
        handle.write(json.dumps(payload, indent=2) + "\n")
    return path


SUITE_ROLE = "nl2sql_eval"


class SuiteRoleError(RuntimeError):
    """Eval's own role cannot be trusted or made: one line saying what to do."""


@dataclass(frozen=True)
class SuiteServer:
    """Where a suite's databases are made: by ``admin``, for ``role`` to own and use.

    A suite's dumps and gold queries and the model's answers are a suite's and a model's:
    run as the server's superuser, `COPY ... TO PROGRAM` in any of them ran a command as the
    server's OS user, and a dump could make roles or take other databases. As a role with
    no rights beyond the databases it owns, they reach nothing else. ``role`` is None for an
    admin that is no superuser (a --dsn user's own rights, as `psql -f` would run the suite
    with): answers not proven harmless are not run then.
    """

    admin: str
    role: str | None = None
    password: str | None = field(default=None, repr=False)
    embedded: object | None = None  # the embedded server this process started, to stop

    def conninfo_for(self, database: str) -> str:
        if self.role is None:
            return make_conninfo(self.admin, dbname=database)
        return make_conninfo(self.admin, dbname=database, user=self.role, password=self.password)  # (given: the password file's not read)

    def with_role(self) -> SuiteServer:
        """This server with eval's own role, made or taken back by a superuser admin with a
        fresh password (call it holding the server's claim, so that no other run uses the
        role). Raises SuiteRoleError where a superuser's run would otherwise go on with the
        superuser's rights."""
        password = secrets.token_urlsafe(24)
        with admin_connection(self.admin) as conn:  # the session user's rights: a role set in its options can be reset
            if not conn.execute("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) session_user").fetchone()[0]:
                return self
            _take_role(conn, password)
        return replace(self, role=SUITE_ROLE, password=password)

    def stop(self) -> None:
        """The role closed again (no login, its sessions ended: a password a suite set for it
        opens nothing), and the embedded server stopped if this process started it."""
        if self.role is not None:
            with contextlib.suppress(psycopg.Error), admin_connection(self.admin) as conn:
                conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(self.role)))
                _end_sessions(conn, self.role)
        if self.embedded is not None:
            self.embedded.stop()  # type: ignore[attr-defined]


def suite_server(dsn: str | None) -> SuiteServer:
    """The --dsn server, or the embedded one (started), without a role of eval's own yet."""
    if dsn:
        return SuiteServer(dsn)
    from nl2sql_shell.db import embedded

    server = embedded.start()
    return SuiteServer(server.conninfo("postgres"), embedded=server)


def _take_role(conn: psycopg.Connection, password: str) -> None:
    """SUITE_ROLE made, or taken back from whatever a suite or anyone did to it: no attributes,
    no settings, its sessions ended, a fresh password. One that is a member of a role, or has
    members, is someone else's doing that eval will not undo: SuiteRoleError."""
    name = sql.Identifier(SUITE_ROLE)
    found = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_auth_members m WHERE r.oid IN (m.member, m.roleid)) FROM pg_catalog.pg_roles r WHERE r.rolname = %s", (SUITE_ROLE,)
    ).fetchone()
    if found is None:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(name))
    elif found[0]:
        raise SuiteRoleError(f"the role {SUITE_ROLE} is a member of another role or has members of its own (not eval's doing): drop it (DROP OWNED BY {SUITE_ROLE}; DROP ROLE {SUITE_ROLE}) and run again")
    # (INHERIT: it has no roles to inherit from, and PostgreSQL 15 gives a database's owner
    # CREATE on its public schema through pg_database_owner, which a NOINHERIT owner lacks)
    conn.execute(sql.SQL("ALTER ROLE {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT NOLOGIN CONNECTION LIMIT -1 VALID UNTIL 'infinity'").format(name))
    conn.execute(sql.SQL("ALTER ROLE {} RESET ALL").format(name))
    for (database,) in conn.execute(
        "SELECT d.datname FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase WHERE s.setrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s)", (SUITE_ROLE,)
    ).fetchall():
        conn.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} RESET ALL").format(name, sql.Identifier(database)))
    _end_sessions(conn, SUITE_ROLE)
    # its SCRAM verifier, not the password, goes to the server (and so to its log, where DDL is logged)
    verifier = conn.pgconn.encrypt_password(password.encode(), SUITE_ROLE.encode(), b"scram-sha-256").decode()
    conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(name, sql.Literal(verifier)))


def _end_sessions(conn: psycopg.Connection, role: str) -> None:
    conn.execute("SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = %s", (role,))
