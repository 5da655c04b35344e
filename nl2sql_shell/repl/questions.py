"""`?` at the prompt: load the model in the background, ask, show, confirm, run read-only.

The model loads in a thread as soon as the shell starts, so SQL can be typed at once.
Generation also runs in a thread: Ctrl-C in the main thread sets a cancel event, so the
model stops at once and the shell goes on.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

import psycopg

from nl2sql_shell.config import holds_password
from nl2sql_shell.db.as_sent import backslashes_differ, undecodable
from nl2sql_shell.db.cells import visible, visible_sql
from nl2sql_shell.nl2sql.prompt import Example
from nl2sql_shell.nl2sql import DEFAULT_CANDIDATES
from nl2sql_shell.nl2sql.followup import FOLLOW_UP as _FOLLOW_UP
from nl2sql_shell.nl2sql.followup import READ_TIMEOUT_MS
from nl2sql_shell.nl2sql.proof import prove
from nl2sql_shell.repl.draft import Draft
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.variables import boolean
from nl2sql_shell.terminal_prompt import is_terminal

_T = TypeVar("_T")

# Tokens the model may spend explaining its query (`?` at the confirmation): two or three sentences.
EXPLANATION_TOKENS = 160
_SENTENCE_END = re.compile(r"[.!?](?=\s)")
RED, BOLD, RESET = "\x1b[31m", "\x1b[1m", "\x1b[0m"

_SHOWN_REASONS = 30  # `?+`'s lines of why tables were given



class QuestionHandler:
    """Everything `?` needs beside the pipeline: model loading, confirmation, memory."""

    def __init__(
        self,
        shell: Shell,
        *,
        model: str | None,
        adapter: str | None,
        quantize: str | None,
        device: str | None,
        backend: str = "auto",
        model_url: str | None = None,
        candidates: int = DEFAULT_CANDIDATES,
        assume_yes: bool = False,
        asker=None,
        rules: frozenset[str] | None = None,
        check_seconds: float | None = None,
        grammar: bool = False,
    ) -> None:
        """`asker` is an already loaded pipeline (embedding, tests); otherwise one is loaded."""
        self.shell = shell
        self.model_options = {"model": model, "adapter": adapter, "quantize": quantize, "device": device, "backend": backend, "model_url": model_url}
        self.candidates = candidates
        self.rules = rules  # correction rules on (None: the defaults)
        self.check_seconds = check_seconds  # wall clock for one EXPLAIN or vote run (None: the default)
        self.grammar = grammar  # decoding under the schema's grammar, where the backend can (Options.grammar)
        self.assume_yes = assume_yes
        self.confirm: Callable[[str], str] | None = None  # set by the interactive front end
        self.remember: Callable[[str], None] | None = None  # adds accepted SQL to the input history
        self.asker = asker
        self.load_error: str | None = None
        self.progress = "model: not loaded"
        self.history: list[Example] = []
        self.last_answer = None
        self._loader: threading.Thread | None = None
        self._start_lock = threading.Lock()
        shell.on_schema_change.append(self._schema_changed)

    # -- loading ------------------------------------------------------------------------------------
    def start_loading(self) -> None:
        """Load the model in the background; after a load that failed (a model server still
        starting, a file not yet fetched), the next `?` tries again."""
        with self._start_lock:  # the delayed start and a `?` may race
            if self._loader is not None and not self._loader.is_alive() and self.asker is None:
                self._loader = None
            if self._loader is not None or self.asker is not None:
                return
            self._loader = threading.Thread(target=self._load, name="model-loader", daemon=True)
            self._loader.start()

    def _load(self) -> None:
        try:
            from nl2sql_shell.llm.load import ModelLoadError, load_model
            from nl2sql_shell.llm.quiet import quiet
            from nl2sql_shell.model_choice import resolve_spec
            from nl2sql_shell.nl2sql.pipeline import Asker, Options

            spec = resolve_spec(**self.model_options)
        except ImportError as exc:
            self.load_error = f"? questions need the model extras ({exc.name} is missing): pip install 'nl2sql-shell[llm]'"
            self.progress = "model: unavailable"
            return
        self.progress = f"model: loading {spec.model or spec.url}"
        try:
            with quiet(self._set_progress):  # the person is typing: nothing may print over the prompt
                model = load_model(spec, progress=self._set_progress)
        except ModelLoadError as exc:
            self.load_error = str(exc)
            self.progress = "model: failed to load"
            return
        except Exception as exc:  # noqa: BLE001 - e.g. out of memory: one line, the shell goes on
            self.load_error = f"could not load the model: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            self.progress = "model: failed to load"
            return
        self.asker = Asker(model, Options.chosen(self.candidates, self.rules, self.check_seconds, self.grammar))
        self.progress = f"model: {getattr(model, 'name', spec.model)} ({model.device}, loaded in {model.load_seconds:.1f} s)"

    def _set_progress(self, text: str) -> None:
        self.progress = f"model: {text}"

    def _wait_for_model(self) -> bool:
        if self.asker is not None:
            return True
        self.start_loading()
        assert self._loader is not None
        if self._loader.is_alive():
            if self.shell.interactive:  # a script's stderr is for its errors
                self.shell.error(f"{self.progress} (Ctrl-C to stop waiting)")
            try:
                while self._loader.is_alive():
                    self._loader.join(0.1)
            except KeyboardInterrupt:
                self.shell.error("Stopped waiting; the model goes on loading.")
                return False
        if self.asker is None:
            self.shell.meta_error(visible(self.load_error or "the model is not available"))
            return False
        return True

    def status(self) -> str:
        return self.progress

    def _schema_changed(self) -> None:
        if self.asker is not None:
            self.asker.schemas.invalidate()

    # -- asking -------------------------------------------------------------------------------------
    def ask(self, line: str) -> None:
        from nl2sql_shell.nl2sql.pipeline import question_too_long
        from nl2sql_shell.repl.variables import substitute

        line = substitute(line, self.shell.variables, sql=False)  # `? orders above :limit`, as psql would
        verbose, insist = line.startswith("?+"), line.startswith("?!")
        question = line[2:].strip() if verbose or insist else line[1:].strip()
        if not question:
            self.shell.meta_error("usage: ? QUESTION   (e.g. ? top 5 customers by total amount)")
            self.shell.last_failed = True
            return
        if undecodable(question):
            self.shell.meta_error("the question holds bytes that are not UTF-8; type it again")
            self.shell.last_failed = True
            return
        if (too_long := question_too_long(question)) is not None:  # said at once, not after the model's load
            self.shell.meta_error(too_long)
            self.shell.last_failed = True
            return
        if not self._wait_for_model():
            self.shell.last_failed = True
            return
        answer = self._generate(question, insist)
        if answer is None:
            return
        if self.shell.conn.broken or self.shell.conn.closed:  # lost while the model wrote: nothing was checked, nothing is offered
            self.shell.output.say("Not run: the connection to the server was lost.\n")
            self.shell.last_failed = True
            self.shell.reconnect_if_needed()
            return
        self.last_answer = answer
        if verbose:
            self._show_context(answer, self.shell.output.say)
        self._present(answer)

    def _store(self):
        from nl2sql_shell.nl2sql.examples import ExampleStore, store_path

        info = self.shell.conn.info
        return ExampleStore(store_path(info.host, info.port, info.dbname), warn=self.shell.error)

    def _generate(self, question: str, insist: bool = False):
        history = self.history[-1:] if self.history and _FOLLOW_UP.search(question) else []
        examples = self._store().similar(question)
        draft = Draft(sys.stderr) if self.shell.interactive else None
        on_text = draft.write if draft is not None else None
        try:
            return self._interruptible(
                lambda cancel: self.asker.ask(question, self.shell.conn, examples=examples, history=history, on_text=on_text, cancel=cancel, check_grounding=not insist),
                "answering",
                clear=draft.erase if draft is not None else None,
            )
        finally:
            if draft is not None:
                draft.erase()

    def _interruptible(self, job: Callable[[threading.Event], _T], doing: str, *, clear: Callable[[], None] | None = None) -> _T | None:
        """Run `job(cancel)` in a thread: Ctrl-C here sets `cancel`, which stops the model
        within a token, cancels the server statement the job waits on, and the shell goes on
        once the job is done. None (after a one-line error) when stopped or failed; `clear`
        first tidies what the job streamed, so the error stays in sight."""
        cancel = threading.Event()
        result: list[_T] = []
        failure: list[BaseException] = []

        done = threading.Event()  # not Thread.is_alive: after a join that Ctrl-C interrupted, Python 3.11 may call a running thread stopped

        def work() -> None:
            try:
                result.append(job(cancel))
            except BaseException as exc:  # noqa: BLE001 - reported below, in the main thread
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=work, name="generate", daemon=True).start()
        while not done.is_set():
            try:
                done.wait(0.05)
            except KeyboardInterrupt:
                # The model stops within a token; the shell's own reads on the connection
                # (schema, proof, checks, perhaps waiting on a lock) are cancelled too, and the
                # prompt comes back only when the job has let go of the connection.
                cancel.set()
                self.shell.conn.cancel_safe()
        if (cancel.is_set() or failure) and clear is not None:
            clear()
        if cancel.is_set():
            self.shell.error("Generation stopped.")
        elif failure:
            self.shell.meta_error(visible(f"error while {doing}: {failure[0]}"))  # a model server's words may hold escapes
        else:
            return result[0]
        self.shell.last_failed = True
        return None

    def _show_context(self, answer, write: Callable[[str], None]) -> None:
        write(visible("Tables given to the model: " + (", ".join(answer.tables) or "(none)")) + "\n")
        for reason in answer.linking[:_SHOWN_REASONS]:
            write(f"  {visible(str(reason))}\n")
        if len(answer.linking) > _SHOWN_REASONS:  # a word every column of a wide table holds
            write(f"  ... and {len(answer.linking) - _SHOWN_REASONS} more matches\n")

    def _present(self, answer) -> None:
        """Show the SQL and a one-line summary, then run it only as the person decides. They
        are shown on the terminal, as psql shows its prompts: `\\o FILE` takes query results,
        and a person asked to confirm must see what they confirm."""
        say = self.shell.output.say
        if answer.kind == "refusal":
            if not answer.absent:
                say("The model says this database cannot answer that question.\n")
            else:  # refused on the evidence of words the database lacks: say which, and how to insist
                say(f"This database cannot answer that: {visible(answer.reason)}. Use the schema's words, or ask with ?! to let the model try anyway.\n")
            return
        if answer.sql is None or answer.kind == "failed":
            self.shell.meta_error(f"No usable SQL: {visible(answer.reason)}")
            if answer.sql:
                say(visible(answer.sql) + "\n")
            self.shell.last_failed = True
            return
        colour = self.shell.interactive and is_terminal(sys.stdout)
        shown = visible_sql(answer.sql)  # what runs, every character of it, with nothing that moves the cursor
        say(_highlight(shown) if colour else shown + "\n")
        if shown != answer.sql:  # a written "\\x1B" reads as an escaped ESC: say which it is
            say("-- it holds control, invisible or look-alike characters, shown above as \\t, \\xNN or \\uNNNN escapes\n")
        say(self._summary(answer, colour) + "\n")
        if not self.shell.interactive or self.confirm is None:
            self._run_unattended(answer)
            return
        self._confirm_and_run(answer)

    def _summary(self, answer, colour: bool) -> str:
        reads = ", ".join(answer.tables_read)
        if answer.writes:
            text = "WRITES: " + "; ".join(answer.safety.reasons)
        elif not answer.proven:
            why = "; ".join(answer.proof.reasons) if answer.proof is not None else "not checked"
            text = f"MAY HAVE SIDE EFFECTS: not checked on the server ({why})"
        else:
            return visible(f"-- reads {reads or 'no tables'}; {answer.reason}")
        return f"{RED}{BOLD}{visible(text)}{RESET}" if colour else visible(text)

    def _run_unattended(self, answer) -> None:
        """`-c '? ...'`: print only, or with --yes run it if (and only if) it is proven harmless."""
        if not answer.proven:
            what = "this statement writes" if answer.writes else "this statement may have side effects"
            self.shell.error(f"Not run: {what}; run it yourself after reading it.")
            self.shell.last_failed = self.assume_yes
            return
        if self.assume_yes:
            if not (proof := prove(self.shell.conn, answer.sql)).proven:  # as Enter: the schema may have changed since the checks
                self.shell.error(visible(f"Not run: since it was proposed, it may have side effects ({'; '.join(proof.reasons)})."))
                self.shell.last_failed = True
                return
            if boolean(self.shell.variables.get("SINGLESTEP")) and not self.shell.announce(visible_sql(answer.sql)):  # -s: asked first, as every query psql sends; escaped, as the model's SQL is wherever it is shown
                return
            self._run(answer, reviewed=False)

    def _confirm_and_run(self, answer) -> None:
        """Enter runs only SQL proven harmless; a write, or a read that could not be proven,
        runs only after the whole word yes."""
        assert self.confirm is not None
        while True:
            if not answer.proven:
                what = "changes data" if answer.writes else "may have side effects (not checked on the server)"
                typed = self.confirm(f"This statement {what}. Type yes to run it, e to edit, n to drop: ")
                reply = typed.strip()
                if reply.lower() == "yes":
                    self._run(answer, write=answer.writes)
                    return
                if reply.lower() in ("", "n", "no"):
                    self.shell.output.say("Not run.\n")
                    return
            else:
                typed = self.confirm("Run it? [Enter=run, e=edit, n=drop, ?=why] ")
                reply = typed.strip()
                if reply.lower() in ("", "y", "yes"):
                    # proven when shown: proven again, as the schema may have changed while it was read
                    if (proof := prove(self.shell.conn, answer.sql)).proven:
                        self._run(answer)
                        return
                    if self.shell.conn.broken or self.shell.conn.closed:  # not the statement: the session
                        self.shell.output.say("Not run: the connection to the server was lost.\n")
                        self.shell.reconnect_if_needed()
                        return
                    answer.proof = proof
                    self.shell.output.say(visible(f"Not run: since it was shown, it may have side effects ({'; '.join(proof.reasons)}).") + "\n")
                    continue
                if reply.lower() in ("n", "no"):
                    self.shell.output.say("Dropped.\n")
                    return
            if reply.lower() in ("e", "edit"):  # into the prompt's buffer, shown again as psql shows what \e left
                if problem := backslashes_differ(self.shell.conn, answer.sql):  # typed, it would be read otherwise
                    self.shell.error(f"Not editable: {problem}.")
                    continue
                if visible_sql(answer.sql) != answer.sql:  # in the buffer they are drawn as nothing, or reorder the line, and Enter sends them
                    self.shell.error("Not editable: it holds control, invisible or look-alike characters, shown above escaped, which the prompt would not show.")
                    continue
                # a draft, not the query buffer: a script asking (\i) would run its buffer;
                # after one kept earlier, not in its place
                self.shell.add_draft(answer.sql)
                return
            if reply == "?":
                self._explain(answer)
                continue
            if not answer.proven and reply.lower() == "y":
                self.shell.output.say("Type the whole word yes to run this statement.\n")
            else:  # a line typed ahead or pasted: not lost, and not run either
                self.shell.add_draft(typed + "\n")  # as typed; keys typed ahead after it start a line of their own
                self.shell.output.say(visible(f"Not an answer; it waits at the next prompt: {reply[:60]}") + "\n")

    def _run(self, answer, write: bool = False, *, reviewed: bool = True) -> None:
        """Model SQL runs as one statement; reads in a READ ONLY transaction with a timeout, so
        the server refuses any write. Only an answer a person ``reviewed`` (agreed to at the
        confirmation) becomes an example for later prompts: one run unattended (--yes) had
        been corrected into another meaning, and the model copied it for the next question."""
        if write and (problem := backslashes_differ(self.shell.conn, answer.sql)):
            self.shell.error(f"Not run: {problem}.")
            self.shell.last_failed = True
            return
        outcome = self.shell.run_sql(answer.sql, read_only=not write, statement_timeout_ms=None if write else READ_TIMEOUT_MS, single=True)
        if not write and outcome.diag is not None and outcome.diag.sqlstate == psycopg.errors.LockNotAvailable.sqlstate:
            self.shell.error("Another session holds a lock on a table it reads: a query the model wrote never waits for one (what it reads could change meanwhile). Run it as your own to wait.")
        if outcome.ok:
            self.history.append(Example(answer.question, answer.sql))
            if reviewed:
                self._store().add(answer.question, answer.sql)
            if self.remember is not None and not backslashes_differ(self.shell.conn, answer.sql) and visible_sql(answer.sql) == answer.sql:  # recalled, it is typed text, drawn as typed
                self.remember(answer.sql)

    def _explain(self, answer) -> None:
        """The model says why its query answers the question; the text streams as it is written
        (tens of seconds on a CPU), a whole sentence at a time, so that a reply cut off by the
        token limit (or by Ctrl-C, back at the same confirmation) ends on a full stop, not
        halfway through a word."""
        messages = [
            {"role": "system", "content": "You explain SQL queries to analysts in two or three plain sentences."},
            {"role": "user", "content": f"Question: {answer.question}\nSQL:\n{answer.sql}\nWhy does this query answer the question?"},
        ]
        model = self.asker.model
        say = self.shell.output.say  # part of the confirmation: on the terminal
        shown, held = False, ""  # held: written since the last sentence ended

        def show(text: str) -> None:
            nonlocal shown, held
            text = held + text
            if not shown:
                text = text.lstrip()  # the reply's leading blank line
            ends = [m.end() for m in _SENTENCE_END.finditer(text)]
            if ends:
                say(visible(text[: ends[-1]]))
                shown = True
            held = text[ends[-1] :] if ends else text

        def end_line() -> None:
            nonlocal shown
            if shown:  # a message after sentences shown starts on a line of its own
                say("\n")
            shown = False

        generations = self._interruptible(
            lambda cancel: model.generate(model.chat_prompt(messages), max_new_tokens=EXPLANATION_TOKENS, on_text=show, cancel=cancel), "explaining", clear=end_line
        )
        cut = bool(generations) and generations[0].finish == "length"
        if generations and held.strip() and not (cut and shown):  # one long unfinished sentence: marked as cut
            say(visible(held.rstrip()) + ("…" if cut else ""))
            shown = True
        if shown:
            say("\n")

    # -- meta-commands --------------------------------------------------------------------------------
    def explain_last(self) -> None:
        answer = self.last_answer
        if answer is None:
            self.shell.error("no question asked yet")
            return
        out = self.shell.output
        out.write(visible(f"Question: {answer.question}\nOutcome: {answer.kind} ({answer.reason})") + "\n")
        self._show_context(answer, out.write)
        for number, attempt in enumerate(answer.attempts, 1):
            written_on = f" (written {attempt.second_try})" if attempt.second_try else ""
            out.write(visible(f"Attempt {number}{written_on}: {attempt.sql or attempt.text.strip()[:200]}") + "\n")
            for change in attempt.changes:
                out.write(visible(f"  corrected ({change.rule}): {change}") + "\n")
            for error in attempt.errors:
                out.write(visible(f"  rejected: {error}") + "\n")
            if attempt.proof is not None and not attempt.proof.proven:
                out.write(visible("  not run (unproven): " + "; ".join(attempt.proof.reasons)) + "\n")
        timings = ", ".join(f"{k} {v:.2f}" for k, v in answer.timings.items())
        out.write(f"Tokens: {answer.prompt_tokens} prompt, {answer.generated_tokens} generated; seconds: {timings}\n")

    def examples_command(self, argument: str) -> None:
        store = self._store()
        if argument.startswith("add "):
            question, sep, sql = argument[4:].partition("=>")
            if not sep or not question.strip() or not sql.strip():
                self.shell.error("usage: \\examples add QUESTION => SQL")
                return
            if holds_password(question) or holds_password(sql):  # (the store keeps none: offered back, it would reach the model)
                self.shell.error("Not kept: it holds a password, which the examples memory never keeps.")
                return
            store.add(question.strip(), sql.strip())
            self.shell.output.write_unlogged("Example added.\n")
            return
        pairs = store.all()
        if not pairs:
            self.shell.output.write_unlogged("No examples yet: accepted answers to ? questions are kept here.\n")
        for pair in pairs:
            self.shell.output.write_unlogged(visible(f"? {pair.question}\n  {pair.sql}") + "\n")

    def close(self) -> None:
        """Nothing to release: the loader and generator threads are daemons."""


def _highlight(sql: str) -> str:
    from pygments import highlight
    from pygments.formatters import TerminalFormatter
    from pygments.lexers.sql import PostgresLexer

    return highlight(sql, PostgresLexer(), TerminalFormatter())
