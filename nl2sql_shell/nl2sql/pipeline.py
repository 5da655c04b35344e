"""The `?` pipeline: question -> schema context -> prompt -> model -> checks -> (repair) -> Answer.

This is the product's core. The REPL, `-c`, eval and finetune's held-out check all call
`Asker.ask`; nothing else builds prompts or judges SQL (finetune trains on the schema text
`Asker.schema_text` shows). The pipeline never runs the SQL for real: it only EXPLAINs it
inside a READ ONLY transaction (and, when voting between candidates, runs them read-only
with a row limit). Only candidates proven harmless on the
server's catalog (proof.py) are EXPLAINed or run at all. Running the chosen SQL is the
caller's job, after the person agrees.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import psycopg
from psycopg import pq

from nl2sql_shell.db.as_sent import unsent
from nl2sql_shell.db.execute import OneStatementCursor, read_only_transaction
from nl2sql_shell.llm.model import Generation, Model
from nl2sql_shell.nl2sql import CHECK_VALUES, DEFAULT_CANDIDATES, GREEDY_FIRST, REFUSAL_DOUBT_LOGPROB, SCHEMA_BUDGET_TOKENS, WORDS_RETRY
from nl2sql_shell.nl2sql import prompt as prompts
from nl2sql_shell.nl2sql.check import CheckResult, check_sql
from nl2sql_shell.nl2sql.extract import extract_sql, is_refusal
from nl2sql_shell.nl2sql.grammar import sql_grammar
from nl2sql_shell.nl2sql.literals import unfound_values
from nl2sql_shell.nl2sql.proof import Proof, prove
from nl2sql_shell.nl2sql.rules import REPAIRS, RULES, Change, Corrected, apply_rules, default_rules
from nl2sql_shell.nl2sql.rules.times import conversion_errors
from nl2sql_shell.nl2sql.safety import Safety, classify, explained_statement
from nl2sql_shell.schema.grounding import absent_terms, ground
from nl2sql_shell.schema.introspect import SchemaCache
from nl2sql_shell.schema.linking import Linked, Reason, select_tables
from nl2sql_shell.schema.model import Schema, Table
from nl2sql_shell.schema.readable import ModelView, model_view, render_for_model
from nl2sql_shell.schema.render import render_schema
from nl2sql_shell.schema.values import find_values, values_hint

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its parser warnings are not the user's business

Kind = Literal["read", "write", "refusal", "failed", "cancelled"]
STOP_STRINGS = (";", "```\n", "\n\n\n")
# A question and its instructions together, at most: far more than any prompt's budget leaves
# room for, and reading a paste of megabytes held the proxy's event loop (the GIL) for seconds.
MAX_QUESTION_CHARS = 10_000


def question_too_long(question: str, hint: str | None = None) -> str | None:
    """Why a question is refused before anything else (a pasted file is not a question, and
    reading it against the schema would take long): None when it is short enough."""
    if (size := len(question) + len(hint or "")) > MAX_QUESTION_CHARS:
        return f"the question is too long ({size:,} characters; at most {MAX_QUESTION_CHARS:,})"
    return None


@dataclass
class Attempt:
    """One generation and what the checks said of it (kept for `\\explain-last` and eval)."""

    text: str
    sql: str | None  # what was checked: the query as written, or as the rules corrected it
    errors: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)  # the rules' corrections that made `sql`
    written: str | None = None  # the query as the model wrote it, when the rules changed it
    chosen: bool = False  # the candidate the answer's SQL comes from
    proof: Proof | None = None  # whether `sql` is proven harmless on the server (None: not checked)
    unknown: tuple[str, ...] = ()  # tables and columns `sql` names that the schema does not have
    unfound: tuple[str, ...] = ()  # its comparisons with a text value that no row holds (literals.py)
    # The query with the repairs that could be made and the errors that still fail it, in the
    # names the model reads: what a repair round gives back, so that the model hears of the
    # error left (a column on the wrong table) rather than of the names the rules could mend.
    mended: tuple[str, list[str]] | None = None
    second_try: str | None = None  # how the greedy query was written again after the first failed (SecondTry.how)


@dataclass(frozen=True)
class SecondTry:
    """Another prompt for the greedy query, written only when the first failed: a different
    view of the same question, since samples of the same prompt repeat its mistakes."""

    how: str  # how the query was written, as the reason line and \\explain-last say it
    view: ModelView
    messages: list[dict[str, str]]
    grammar: str | None


WORDS = "on the schema's names in words"


_REPAIR_PASSES = 3  # rounds of the repair rules over a query that still fails


@dataclass
class _Verified:
    """What the checks said of one query: its errors, else its result and proof."""

    errors: list[str]
    result: CheckResult | None
    proof: Proof | None
    unknown: tuple[str, ...] = ()  # names the schema does not have (CheckResult.unknown)


@dataclass
class Answer:
    """What the model proposes for a question, and everything needed to judge it."""

    question: str
    sql: str | None
    kind: Kind
    reason: str
    safety: Safety | None = None
    proof: Proof | None = None  # None or unproven: runs only after a typed yes, like a write
    tables: list[str] = field(default_factory=list)  # given to the model
    tables_read: list[str] = field(default_factory=list)  # read by the chosen SQL: the server's names when proven, else the checks'
    linking: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    prompt_tokens: int = 0
    generated_tokens: int = 0
    rounds: int = 0  # generation rounds: the first, then one per repair
    greedy_alone: bool = False  # the greedy query passed the checks, so no samples were written
    # The question's words that nothing in the database matches, when they are why it was
    # refused (before the model ran, or after its queries needed them); empty when the model
    # itself said the database cannot answer.
    absent: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def writes(self) -> bool:
        return self.safety is not None and self.safety.writes

    @property
    def proven(self) -> bool:
        """Proven harmless on the server: the only SQL that may run without a typed yes."""
        return not self.writes and self.proof is not None and self.proof.proven


@dataclass
class Options:
    """How hard to try: repairs after a failed check, candidates to vote over, prompt budget."""

    max_repairs: int = 2
    candidates: int = DEFAULT_CANDIDATES  # see nl2sql/__init__.py
    # A repair round samples several queries in one batch and votes: greedy repairs by a small
    # model mostly repeat the mistake, and a batch of 4 costs little more than one sequence.
    repair_samples: int = 4
    temperature: float = 0.7
    schema_budget_tokens: int = SCHEMA_BUDGET_TOKENS
    max_new_tokens: int = 200
    statement_timeout_ms: int = 10_000
    check_seconds: float = 15.0  # wall clock for one EXPLAIN or vote run, whatever the server's timeout
    vote_row_limit: int = 1000  # rows fetched (server side) per candidate for the vote
    # The baselines eval measures the pipeline against, one greedy query each, no corrections
    # and no repairs: "tutorial" (the original tutorial's names-only prompt) and "raw" (the
    # plain CREATE TABLE prompt of model cards, every table).
    prompt_style: Literal["default", "tutorial", "raw"] = "default"
    refuse_ungrounded: bool = True  # refuse, before the model runs, questions the schema never mentions
    rules: frozenset[str] = field(default_factory=default_rules)  # correction rules on (nl2sql/rules)
    # When the first batch leaves the answer open (nothing passed, or no strict majority of it
    # agrees), this many more are sampled and all are voted on: time spent only on hard questions.
    more_candidates: int = 0
    # Show prefixed or quoted camelCase names to the model in words and translate its query
    # back (schema/readable.py). Off: on bench/unfamiliar it gained nothing (docs/benchmarks.md).
    readable_names: bool = False
    # When the greedy query fails the checks on a schema whose names the model reads in words
    # (prefixed or quoted camelCase: schema/readable.py), the greedy query written on those
    # names comes next, alone when it passes; the samples follow only when it fails too.
    words_retry: bool = WORDS_RETRY  # see nl2sql/__init__.py
    # Count the model's refusals as votes: when more candidates refuse than agree on any one
    # result, the answer is the refusal, even though a query passed the checks. Off: an
    # experiment until measured (eval --refusal-votes).
    refusal_votes: bool = False
    greedy_first: bool = GREEDY_FIRST  # see nl2sql/__init__.py
    # Constrain decoding so that every name after a dot is one the prompt showed (grammar.py),
    # on a backend that can (`Model.grammar`). Off: no gain on dev or bench/unfamiliar, and it
    # derailed one query (docs/benchmarks.md, fifteenth session); eval --grammar measures it.
    grammar: bool = False
    # Look the question's quoted and capitalised phrases up in the text columns of the tables
    # shown, and name the columns that hold them in the prompt (schema/values.py). Off: the
    # 0.5B model answered 3 fewer of dev's every 4th with it (docs/benchmarks.md, sixteenth
    # session); eval --values measures it, for a larger model.
    values: bool = False
    # Ask the database whether a proven candidate's `column = 'text'` (LIKE, ILIKE) matches any
    # row (literals.py): one that matches none is not trusted alone, and the candidates whose
    # values all exist are voted on first. See nl2sql/__init__.py.
    check_values: bool = CHECK_VALUES
    # A question with a word nothing in the database matches is refused when the model gives
    # its own refusal at least this log-probability (None: never). See nl2sql/__init__.py.
    refusal_doubt: float | None = REFUSAL_DOUBT_LOGPROB

    @property
    def baseline(self) -> bool:
        return self.prompt_style != "default"

    @classmethod
    def chosen(cls, candidates: int, rules: frozenset[str] | None = None, check_seconds: float | None = None, grammar: bool = False) -> Options:
        """The options a person chose (flags, the config file); None keeps the default."""
        options = cls(candidates=candidates, grammar=grammar)
        if rules is not None:
            options.rules = rules
        if check_seconds is not None:
            options.check_seconds = check_seconds
        return options


class Asker:
    """A loaded model plus the caches that make the second question cheap."""

    def __init__(self, model: Model, options: Options | None = None) -> None:
        self.model = model
        self.options = options or Options()
        self.schemas = SchemaCache()

    def ask(
        self,
        question: str,
        conn: psycopg.Connection,
        *,
        hint: str | None = None,
        examples: Sequence[prompts.Example] = (),
        history: Sequence[prompts.Example] = (),
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
        check_grounding: bool = True,
    ) -> Answer:
        """Propose SQL for ``question``; ``check_grounding=False`` lets the model try a question
        whose words the schema does not have (the person insists: `?!` in the shell)."""
        started = time.perf_counter()
        if (too_long := question_too_long(question, hint)) is not None:
            return Answer(question, None, "failed", too_long)
        schema = self.schemas.get(conn)
        grounding = None  # what the question talks about that the schema lacks (None: not judged)
        if check_grounding and not history and self.options.refuse_ungrounded and self.options.prompt_style == "default":
            grounding = ground(schema, question, hint)
            if grounding.unanswerable:
                answer = refused_on_evidence(Answer(question, None, "failed", ""), grounding.unmatched)
                answer.timings["total_s"] = time.perf_counter() - started
                return answer
        linked, view = self._shown(schema, question, hint)
        tables = list(linked.tables)
        answer = Answer(question, None, "failed", "", tables=[t.qualified_name for t in tables], linking=[describe_reason(r) for r in linked.reasons])
        answer.timings["schema_s"] = time.perf_counter() - started
        second_tries: list[Callable[[], SecondTry | None]] = []  # in turn, while no greedy query stands alone
        if self.options.prompt_style == "tutorial":
            messages = prompts.tutorial_messages([(t.name, [c.name for c in t.columns]) for t in tables], question)
        elif self.options.prompt_style == "raw":
            messages = prompts.create_table_messages(render_schema(schema.tables, qualify=schema.needs_schema, notes=False), question, hint=hint)
        else:
            matches = find_values(conn, schema, tables, question) if self.options.values else []
            answer.linking += [f"{m.table}: question words {m.phrase!r} are a value of column {m.column} (looked up)" for m in matches]
            values = values_hint(matches)

            def messages_in(view: ModelView) -> list[dict[str, str]]:
                return prompts.build_messages(
                    render_for_model(view, tables), question, hint=hint, values=values and view.readable_text(values),
                    examples=[replace(e, sql=view.to_readable(e.sql)) for e in examples],
                    history=[replace(e, sql=view.to_readable(e.sql)) for e in history],
                )

            def in_words() -> SecondTry | None:
                words = model_view(schema)
                return SecondTry(WORDS, words, messages_in(words), self._grammar(words, tables)) if words.names else None

            messages = messages_in(view)
            if self.options.words_retry and not view.names:
                second_tries.append(in_words)
        if grounding is not None and grounding.unmatched and (doubt := self._doubt(messages)) is not None:
            refused_on_evidence(answer, grounding.unmatched, f", and the model itself gives refusing a chance of {doubt:.1%}")
            answer.timings["total_s"] = time.perf_counter() - started
            return answer
        base_messages = messages  # each repair shows only the latest failed attempt
        grammar = self._grammar(view, tables)
        checked: CheckResult | None = None
        runs: dict[str, str | None] = {}  # each distinct checked query's rows, run once per question
        for round_ in range(self.options.max_repairs + 1):
            answer.rounds = round_ + 1
            candidates, passed = self._candidates(messages, answer, view, conn, on_text if round_ == 0 else None, cancel, round_, grammar, second_tries)
            if round_ == 0 and self.options.more_candidates and self.options.prompt_style == "default" and self._unsettled(candidates, passed, conn, runs):
                more = self._generate(messages, answer, None, cancel, n=self.options.more_candidates, first=len(candidates), grammar=grammar)
                passed += self._checked(more, answer, view, conn, cancel)
                candidates += more
            if cancel is not None and cancel.is_set():
                answer.kind, answer.reason = "cancelled", "generation stopped"
                break
            refusals = [a for a in candidates if a.sql is not None and is_refusal(a.sql)]
            if passed and self.options.refusal_votes and not self.options.baseline and len(refusals) > self._top_votes(passed, conn, runs):
                answer.sql, answer.kind = refusals[0].sql, "refusal"
                answer.reason = f"{len(refusals)} of {len(candidates)} candidates say this database cannot answer the question"
                break
            if passed:
                plausible = [p for p in passed if not p[0].unfound] or passed  # all, when every one compares so
                chosen, checked, answer.reason = self._choose(plausible, conn, runs)
                if aside := [a for a, _ in passed if a.unfound and plausible is not passed]:
                    answer.reason += f"; {len(aside)} set aside: no row holds a value they compare with ({aside[0].unfound[0]})"
                chosen.chosen = True
                if chosen.second_try:
                    answer.reason += f"; written {chosen.second_try} after the first query failed"
                if round_:
                    answer.reason += f" after {round_} repair{'s' * (round_ > 1)}"
                if chosen.changes:  # the corrections of the query the answer shows, no other's
                    answer.reason += "; corrected " + ", ".join(map(str, chosen.changes))
                break
            if refusals and len(refusals) * 2 >= len(candidates):
                answer.sql, answer.kind = refusals[0].sql, "refusal"
                answer.reason = "the model says this database cannot answer the question"
                break
            if self.options.baseline or any(LOCKED in error for a in candidates for error in a.errors):
                break  # a baseline gets no repairs; a lock is not the query's fault
            last = candidates[0]
            failed, errors = last.mended or (view.to_readable(last.sql) if last.sql else last.text, last.errors)
            messages = prompts.repair_messages(base_messages, failed, view.readable_text(feedback(errors)))
        if checked is not None:
            answer.sql = checked.sql
            answer.safety = classify(checked.sql)
            answer.proof = next((a.proof for a in answer.attempts if a.chosen), None)
            answer.tables_read = list(answer.proof.reads if answer.proof is not None and answer.proof.proven else checked.tables)
            answer.kind = "write" if answer.safety.writes else "read"
        elif answer.kind == "failed" and grounding is not None and (absent := absent_terms(grounding, [n for a in answer.attempts for n in a.unknown])):
            # Evidence that the data is not there, not a failure to write SQL: see grounding.py.
            needed = ", ".join(dict.fromkeys(n for names in absent.values() for n in names))
            refused_on_evidence(answer, tuple(absent), f" (the model's queries needed {needed})")
        elif answer.kind == "failed":
            last_errors = answer.attempts[-1].errors if answer.attempts else []
            answer.reason = "no valid query: " + ("; ".join(last_errors) or "the model wrote no SQL")
            answer.sql = answer.attempts[-1].sql if answer.attempts else None
        answer.timings["total_s"] = time.perf_counter() - started
        return answer

    def schema_text(self, question: str, conn: psycopg.Connection, hint: str | None = None) -> str:
        """The schema exactly as the greedy query's prompt shows it for ``question``: linked
        to the question and its hint, in the model's names. Fine-tuning on a suite trains on
        this text, so an adapter learns the prompts `ask` will really send."""
        linked, view = self._shown(self.schemas.get(conn), question, hint)
        return render_for_model(view, list(linked.tables))

    def _shown(self, schema: Schema, question: str, hint: str | None) -> tuple[Linked, ModelView]:
        """The tables linked to the question, and the names the model reads them in."""
        linked = select_tables(schema, f"{question}\n{hint or ''}", budget_tokens=self.options.schema_budget_tokens, count_tokens=self.model.count_tokens)
        # The model reads and writes names in words when asked (schema/readable.py), or as a
        # second try after its query on the schema's own names failed (Options.words_retry);
        # the baselines always read the schema's own names.
        return linked, model_view(schema, readable=self.options.readable_names and self.options.prompt_style == "default")

    def _doubt(self, messages) -> float | None:
        """The probability the model gives to beginning its refusal, when it reaches
        `Options.refusal_doubt` (else None, as for a backend that cannot tell). Read before
        any query is written: the prompt's cache is the one generation needs next."""
        if self.options.refusal_doubt is None:
            return None
        logprob = self.model.logprob(self.model.chat_prompt(messages), prompts.REFUSAL_OPENING, prefix=self._prefix(messages))
        return math.exp(logprob) if logprob is not None and logprob >= self.options.refusal_doubt else None

    def _prefix(self, messages) -> str | None:
        """The system message (rules and schema), the same for every question on a database:
        the prompt head whose attention cache the model keeps."""
        return self.model.chat_prefix(messages[:1]) if messages[0]["role"] == "system" else None

    def _candidates(self, messages, answer: Answer, view: ModelView, conn: psycopg.Connection, on_text, cancel, round_: int, grammar: str | None, second_tries: Sequence[Callable[[], SecondTry | None]] = ()) -> tuple[list[Attempt], list[tuple[Attempt, CheckResult]]]:
        """A round's candidates, and those of them that pass the checks. With
        `Options.greedy_first`, the first round writes the greedy query alone and the samples
        only when it fails the checks or cannot be proven harmless (numbered after it: the ones
        a single batch would have written). Between the two, each of `second_tries` that has
        something to offer (the names in words) writes the greedy query on its own prompt, in
        turn, and the first that passes stands alone as the first would."""
        n = self._samples(round_)
        if not (round_ == 0 and self.options.greedy_first and n > 1 and not self.options.baseline):
            candidates = self._generate(messages, answer, on_text, cancel, n=n, grammar=grammar)
            return candidates, self._checked(candidates, answer, view, conn, cancel)
        candidates = self._generate(messages, answer, on_text, cancel, n=1, grammar=grammar)
        passed = self._checked(candidates, answer, view, conn, cancel)
        answer.greedy_alone = self._stands_alone(passed)
        if answer.greedy_alone or (cancel is not None and cancel.is_set()):
            return candidates, passed
        for second in second_tries if round_ == 0 else ():
            if (again := second()) is None:
                continue
            written = self._generate(again.messages, answer, None, cancel, n=1, grammar=again.grammar)
            written[0].second_try = again.how
            written_passed = self._checked(written, answer, again.view, conn, cancel)
            candidates, passed = candidates + written, passed + written_passed
            if self._stands_alone(written_passed) or (cancel is not None and cancel.is_set()):
                return candidates, passed
        samples = self._generate(messages, answer, None, cancel, n=n - 1, first=1, grammar=grammar)
        return candidates + samples, passed + self._checked(samples, answer, view, conn, cancel)

    def _stands_alone(self, passed: list[tuple[Attempt, CheckResult]]) -> bool:
        """Whether a greedy query that passed needs no samples: proven harmless (so it could be
        run) and comparing with no text value that no row holds."""
        return bool(self._proven(passed)) and not passed[0][0].unfound

    def _checked(self, candidates: list[Attempt], answer: Answer, view: ModelView, conn: psycopg.Connection, cancel) -> list[tuple[Attempt, CheckResult]]:
        """The candidates that pass the checks (corrected or repaired), each with its result."""
        if cancel is not None and cancel.is_set():
            return []
        passed = []
        for attempt in candidates:
            answer.attempts.append(attempt)
            result = self._check(attempt, view, conn)
            if result is not None:
                passed.append((attempt, result))
        return passed

    def _unsettled(self, candidates: list[Attempt], passed: list[tuple[Attempt, CheckResult]], conn: psycopg.Connection, runs: dict[str, str | None]) -> bool:
        """Whether the first batch leaves the answer open, so that more samples are worth their
        time: no query passed the checks (and the model did not mostly refuse), or the queries
        that can be run do not agree in a strict majority of the batch. A query that writes
        cannot be run to vote: then the batch stands."""
        if not passed:
            refusals = sum(1 for a in candidates if a.sql is not None and is_refusal(a.sql))
            return refusals * 2 < len(candidates)
        proven = self._proven(passed)
        if not proven:
            return False
        votes = Counter(f for f in self._fingerprints(proven, conn, runs) if f is not None)
        return not votes or votes.most_common(1)[0][1] * 2 <= len(candidates)

    def _samples(self, round_: int) -> int:
        """Queries to write in this round; a baseline writes one greedy query only."""
        if self.options.baseline:
            return 1
        return self.options.candidates if round_ == 0 else self.options.repair_samples

    def _grammar(self, view: ModelView, tables: Sequence[Table]) -> str | None:
        """The grammar of the tables shown, in the names the model reads, when decoding is
        constrained."""
        return sql_grammar([view.names.table(t) for t in tables]) if self._constrained() else None

    def _constrained(self) -> bool:
        """Whether decoding runs under the schema's grammar: asked for, and the backend can."""
        return self.options.grammar and self.model.grammar and not self.options.baseline

    def _generate(self, messages, answer: Answer, on_text, cancel, n: int, first: int = 0, grammar: str | None = None) -> list[Attempt]:
        text = self.model.chat_prompt(messages)
        prefix = self._prefix(messages)
        generations = self.model.generate(
            text,
            max_new_tokens=self.options.max_new_tokens,
            stop=STOP_STRINGS,
            n=n,
            temperature=self.options.temperature if n > 1 or first else 0.0,
            on_text=on_text,
            cancel=cancel,
            prefix=prefix if prefix and text.startswith(prefix) else None,
            first=first,
            grammar=grammar,
        )
        if not first:  # more candidates for the same prompt: it is counted once
            answer.prompt_tokens += generations[0].prompt_tokens
        answer.generated_tokens += sum(g.new_tokens for g in generations)
        answer.timings["first_token_s"] = answer.timings.get("first_token_s", generations[0].seconds_to_first_token)
        answer.timings["generate_s"] = answer.timings.get("generate_s", 0.0) + max(g.seconds_total for g in generations)
        return [self._attempt(g) for g in generations]

    def _attempt(self, generation: Generation) -> Attempt:
        """A reply cut at the token limit is no query: no `;` or fence ended it, so its SQL
        stops where the limit fell (a join without its ORDER BY and LIMIT passed the checks
        and printed 100 rows for "the 5 largest orders")."""
        if generation.finish == "length":
            return Attempt(generation.text, None, [f"the reply was cut off at the limit of {self.options.max_new_tokens} tokens"])
        return Attempt(generation.text, extract_sql(generation.text))

    def _check(self, attempt: Attempt, view: ModelView, conn: psycopg.Connection) -> CheckResult | None:
        """Static checks first (cheap, precise messages), then the server's own EXPLAIN.

        The model wrote readable names: the corrections and static checks read them against
        the readable schema; the server gets the query in the schema's own names, and so does
        the attempt, as the person sees it."""
        if attempt.sql is None:
            attempt.errors = attempt.errors or ["the reply contains no SQL query"]
            return None
        if is_refusal(attempt.sql):
            return None
        written = attempt.sql
        rules = frozenset() if self.options.baseline else self.options.rules  # a baseline runs as written
        corrected = apply_rules(written, view.readable, enabled=rules)  # equivalent ones, and rewrites switched on
        sql, changes = corrected.sql, corrected.changes
        verified = self._verify(sql, view, conn)
        unknown = verified.unknown
        if verified.errors:  # only a query that fails may be repaired, and only a repair that passes is kept
            repaired, again = self._repair(sql, verified.errors, view, conn, rules)
            if repaired.changes:
                if not again.errors:
                    sql, changes, verified = repaired.sql, [*changes, *repaired.changes], again
                else:
                    attempt.mended = (repaired.sql, again.errors)
                # A repaired table name lets the checks read its columns: what they lack counts too.
                unknown = tuple(dict.fromkeys((*unknown, *again.unknown)))
        attempt.sql, attempt.changes, attempt.proof = view.to_schema(sql), changes, verified.proof
        attempt.written = view.to_schema(written) if changes else None
        attempt.errors.extend(verified.errors)
        attempt.unknown = unknown if verified.errors else ()
        if self.options.check_values and not self.options.baseline and verified.proof is not None and verified.proof.proven:
            attempt.unfound = unfound_values(conn, view.schema, attempt.sql)
        return verified.result

    def _repair(self, sql: str, errors: list[str], view: ModelView, conn: psycopg.Connection, rules: frozenset[str]) -> tuple[Corrected, _Verified]:
        """The repair rules one at a time, in the registry's order, each on what the ones
        before it left, until the query passes: a rule past that point would change a part of
        the query that did not fail (`l.login_at = h.day` is no error, though a DISTINCT
        elsewhere made the query fail). A rule's change that leaves the errors as they were
        (``errors``: the query's as it stands) repaired nothing and is not kept: it changed a
        part that did not fail (`o.customer = o.customer`, a NOT NULL test, became a join key
        while the error was a misspelt column). The changes so far and the checks' last word."""
        changes: list[Change] = []
        verified = _Verified(list(errors), None, None)
        repairs = [r for r in RULES if r.name in REPAIRS.intersection(rules)]
        for _ in range(_REPAIR_PASSES):  # a rule may need another's repair first (`EXTRACT(YEAR FROM founded_year)`)
            before = len(changes)
            for rule in repairs:
                step = apply_rules(sql, view.readable, enabled={rule.name}, failing=True, rules=(rule,))
                if not step.changes or step.sql == sql:
                    continue
                again = self._verify(step.sql, view, conn)
                if again.errors == verified.errors:
                    continue
                sql, changes, verified = step.sql, [*changes, *step.changes], again
                if not verified.errors:
                    return Corrected(sql, changes), verified
            if len(changes) == before:
                break
        return Corrected(sql, changes), verified

    def _verify(self, sql: str, view: ModelView, conn: psycopg.Connection) -> _Verified:
        """The errors of the static checks (a conversion the column's values contradict is
        one), else of the server's EXPLAIN; the result when none.

        EXPLAIN plans the query, and planning evaluates constant calls, so only a query proven
        harmless is EXPLAINed; an unproven one passes on the static checks alone.
        """
        result = check_sql(sql, view.readable)
        if result.ok and view.names:  # in the schema's own names, checked again as the server will read them
            result = check_sql(view.to_schema(result.sql), view.schema)
        if not result.ok:
            return _Verified(list(result.errors), None, None, result.unknown)
        if not self.options.baseline and (misread := conversion_errors(result.sql, view.schema)):
            return _Verified(misread, None, None)  # it runs, and reads the column's values in the wrong unit
        if problem := unsent(conn, result.sql):  # what is shown and checked is not what would run
            return _Verified([problem], None, None)
        proof = prove(conn, result.sql, self.options.statement_timeout_ms)
        if proof.proven and (error := explain(conn, result.sql, self.options)):
            return _Verified([error], None, proof)
        return _Verified([], result, proof)

    def _choose(self, passed: list[tuple[Attempt, CheckResult]], conn: psycopg.Connection, runs: dict[str, str | None]) -> tuple[Attempt, CheckResult, str]:
        """The majority result of the candidates proven harmless (each distinct query run once,
        read-only, row-limited); with none proven, the first (greedy) candidate, not run."""
        proven = self._proven(passed)
        if not proven:
            return *passed[0], f"{_whose(passed[0][0])} passed the schema checks; it was not run"
        if len(proven) == 1:
            return *proven[0], f"{_whose(proven[0][0])} passed the schema and server checks"
        fingerprints = self._fingerprints(proven, conn, runs)
        votes = Counter(f for f in fingerprints if f is not None)
        if not votes:
            return *proven[0], "first of the candidates that passed the checks"
        best, count = votes.most_common(1)[0]
        return *proven[fingerprints.index(best)], f"{count} of {len(passed)} checked candidates returned the same rows"

    def _top_votes(self, passed: list[tuple[Attempt, CheckResult]], conn: psycopg.Connection, runs: dict[str, str | None]) -> int:
        """How many candidates agree on the most common result (1 when none can be run)."""
        proven = self._proven(passed)
        votes = Counter(f for f in self._fingerprints(proven, conn, runs) if f is not None) if len(proven) > 1 else Counter()
        return max(votes.values(), default=1)

    @staticmethod
    def _proven(passed: list[tuple[Attempt, CheckResult]]) -> list[tuple[Attempt, CheckResult]]:
        return [(attempt, result) for attempt, result in passed if attempt.proof is not None and attempt.proof.proven]

    def _fingerprints(self, proven: list[tuple[Attempt, CheckResult]], conn: psycopg.Connection, runs: dict[str, str | None]) -> list[str | None]:
        """Each proven candidate's rows (a hash), running each distinct query once per question."""
        for _, result in proven:
            if result.sql not in runs:
                runs[result.sql] = result_fingerprint(conn, result.sql, self.options)
        return [runs[result.sql] for _, result in proven]


def refused_on_evidence(answer: Answer, absent: Sequence[str], evidence: str = "") -> Answer:
    """`answer` as the refusal that names the question's words nothing in the database matches;
    `evidence` adds what else showed that the data is not there."""
    words = ", ".join(f'"{w}"' for w in absent)
    answer.sql, answer.kind, answer.absent = prompts.REFUSAL_SQL, "refusal", tuple(absent)
    answer.reason = f"nothing in this database matches {words}{evidence}"
    return answer


def feedback(errors: list[str], limit: int = 3, max_chars: int = 700) -> str:
    """The errors given back to the model: the first few, short, so the prompt stays small."""
    if not errors:
        return "no SQL query found in the reply"
    text = "; ".join(dict.fromkeys(errors[:limit]))
    return text if len(text) <= max_chars else text[: max_chars - 3] + "..."


def _whose(attempt: Attempt) -> str:
    """Which query passed: the model's as written, or (its repairs named after) as corrected."""
    return "the corrected query" if attempt.changes else "the model's query"


def describe_reason(reason: Reason) -> str:
    """One line a person can read: why the linker gave this table to the model."""
    if reason.word is None:
        return f"{reason.table}: {reason.how} {reason.matched} ({reason.field})"
    target = f"{reason.field} {reason.matched!r}" + (f" of column {reason.column}" if reason.column and reason.field != "column" else "")
    return f"{reason.table}: question word {reason.word!r} matches {target} ({reason.how})"


def explain(conn: psycopg.Connection, sql: str, options: Options) -> str | None:
    """EXPLAIN the statement, as one statement, in a READ ONLY transaction always rolled back.

    Catches what static checks cannot: type mismatches, unknown functions, bad GROUP BY.
    Returns the server's error as one line, or None when the plan was made. Inside the
    user's own transaction psycopg makes this a savepoint, so their work is untouched.
    """
    if conn.info.transaction_status == pq.TransactionStatus.INERROR:
        return None  # the user's failed transaction cannot run anything; skip this check
    body = sql.rstrip().rstrip(";")
    if (explain_word := _EXPLAIN.match(body)) is not None and (explained := explained_statement(body[explain_word.end() :])) is not None:
        body = explained[1]  # an EXPLAIN the model wrote: its statement is planned ("EXPLAIN EXPLAIN" is a syntax error)
    try:
        with read_only_transaction(conn, options.statement_timeout_ms), _wall_clock(conn, options.check_seconds), OneStatementCursor(conn) as cur:
            cur.execute(body if _SHOW.match(body) else "EXPLAIN " + body, prepare=False)  # SHOW has no plan: it reads a setting, checked by reading it
    except psycopg.Error as exc:
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        line = lines[0] if lines else exc.__class__.__name__
        return f"{LOCKED} ({line})" if isinstance(exc, psycopg.errors.LockNotAvailable) else f"server error: {line}"
    return None


_EXPLAIN = re.compile(r"\s*explain\b", re.IGNORECASE)
_SHOW = re.compile(r"\s*show\b", re.IGNORECASE)
# The checks wait for no lock (execute.NO_WAIT_MS): another session's lock is no fault of the
# query, and asking the model to repair it cost minutes of generation for nothing.
LOCKED = "another session holds a lock on a table it reads, not waited for"


def result_fingerprint(conn: psycopg.Connection, sql: str, options: Options) -> str | None:
    """Run a read-only candidate and hash its first rows, order-insensitively.

    The rows come from a server-side cursor, `vote_row_limit` at most, so a huge result is
    never sent; two candidates cut at the limit compare on the rows fetched. Outside a
    transaction only: a vote inside the user's transaction could hold its locks longer.
    """
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        return None
    try:
        with read_only_transaction(conn, options.statement_timeout_ms), _wall_clock(conn, options.check_seconds), conn.cursor(name="nl2sql_shell_vote") as cur:
            cur.execute(sql.rstrip().rstrip(";"))
            rows = cur.fetchmany(options.vote_row_limit)
    except psycopg.Error:
        return None
    digest = hashlib.sha256()
    for row in sorted(repr(r) for r in rows):
        digest.update(row.encode())
    return digest.hexdigest()


@contextlib.contextmanager
def _wall_clock(conn: psycopg.Connection, seconds: float):
    """Cancel the running statement after ``seconds``: the statement timeout bounds each
    statement, not the time a check takes in all."""
    timer = threading.Timer(seconds, conn.cancel_safe)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
