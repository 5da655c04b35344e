"""The interactive prompt: prompt_toolkit with psql's prompt, history, highlighting, completion.

Everything that is not about the terminal (what a line means, how SQL runs) lives in Shell.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
from prompt_toolkit import PromptSession, search
from prompt_toolkit.application import get_app, run_in_terminal
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.enums import EditingMode
from prompt_toolkit.filters import Condition, emacs_insert_mode, is_searching, vi_insert_mode
from prompt_toolkit.formatted_text import ANSI
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import Input
from prompt_toolkit.input.typeahead import clear_typeahead
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.lexers import PygmentsLexer
from prompt_toolkit.output import Output as PTOutput
from psycopg.pq import TransactionStatus
from pygments.lexers.sql import PostgresLexer

from nl2sql_shell.config import holds_password, open_private, private_file
from nl2sql_shell.db.connect import connect
from nl2sql_shell.repl.completer import SQLCompleter
from nl2sql_shell.repl.help import ASSISTANCE
from nl2sql_shell.repl.metadata import Metadata, load_metadata
from nl2sql_shell.repl.prompt_escapes import PromptRenderer
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.special_variables import parse_int
from nl2sql_shell.repl.statements import CONTINUE, PAREN, READY, after_meta_command, complete_end, drop_empty_lines, input_state, is_complete, line_prompt, meta_command_end, starts_meta_command
from nl2sql_shell.repl.variables import boolean, substitute
from nl2sql_shell.schema.introspect import catalog_version
from nl2sql_shell.terminal_prompt import drop_unread

MODEL_LOAD_DELAY_S = 1.0
# psql's assistance words, typed at the prompt: no blank before, blanks and one `;` after
_ASSISTANCE = re.compile(r"(help|quit|exit)[ \t\n\r\f\v]*;?[ \t\n\r\f\v]*", re.IGNORECASE)  # (C's isspace)


def history_path() -> Path:
    """NL2SQL_SHELL_HISTORY, or `history` in the shell's 0700 data folder."""
    from nl2sql_shell.config import data_folder

    return Path(os.environ.get("NL2SQL_SHELL_HISTORY") or data_folder() / "history")


class PrivateHistory(FileHistory):
    """psql-like history that stays private: the file is 0600 (made so if it was looser), and
    entries holding a password are kept for this session's up-arrow but never written.
    ``control`` gives psql's HISTCONTROL: with ignorespace (or ignoreboth) a line typed with a
    space first is not remembered at all (prompt_toolkit never repeats the last entry).
    A file that cannot be used (unwritable, or a link another user planted: see
    config.open_private) gets psql's one line, once, and the history of this session only."""

    def __init__(self, path: Path, control: Callable[[], str] = lambda: "none", warn: Callable[[str], None] = lambda message: None) -> None:
        self._control, self._warn = control, warn
        self._broken = False
        self._unremembered = False  # the last line typed was kept out of the history (HISTCONTROL)
        super().__init__(str(path))
        self._guarded(lambda: private_file(path))

    def _guarded(self, action: Callable[[], object]) -> None:
        if self._broken:
            return
        try:
            action()
        except OSError as exc:
            self._broken = True
            self._warn(f'could not save history to file "{self.filename}": {exc.strerror or exc}')

    def load_history_strings(self):
        return [] if self._broken else super().load_history_strings()

    def append_string(self, string: str) -> None:
        self._unremembered = string.startswith(" ") and self._control().strip().lower() in ("ignorespace", "ignoreboth")
        if not self._unremembered:
            super().append_string(string)

    def remember_answer(self, sql: str) -> None:
        """The SQL of a question's answer that ran, recalled as typed text: not after a question
        typed with a space first under ignorespace (its answer, literals and all, was written
        where the person had asked for nothing to be kept)."""
        if not self._unremembered:
            super().append_string(sql)

    def store_string(self, string: str) -> None:
        if not holds_password(string):
            self._guarded(lambda: self._append(string))

    def _append(self, string: str) -> None:
        path = private_file(Path(self.filename))  # recreated 0600 if removed while the shell runs
        with os.fdopen(open_private(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab") as f:  # prompt_toolkit's format
            f.write("".join([f"\n# {datetime.datetime.now()}\n", *(f"+{line}\n" for line in string.split("\n"))]).encode("utf-8", "surrogateescape"))  # typed bytes as typed

    def keep_last(self, size: int) -> None:
        """psql's HISTSIZE, applied as psql applies it when it exits: the file keeps the last
        ``size`` entries (a negative size keeps every one). Written under a new name and
        renamed over the file, 0600, so a crash leaves the old history whole; only a regular
        file is rewritten (never /dev/null)."""
        path = Path(self.filename)
        if size >= 0 and path.is_file():
            self._guarded(lambda: self._rewrite(path, size))

    def _rewrite(self, path: Path, size: int) -> None:
        entries = list(self.load_history_strings())  # newest first
        if len(entries) <= size:
            return
        handle, aside = tempfile.mkstemp(prefix=path.name + ".", suffix=".new", dir=path.parent)  # a name no one planted
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as f:
                for entry in reversed(entries[:size]):
                    f.write("\n" + "".join(f"+{line}\n" for line in entry.split("\n")))
            os.replace(aside, path)
        except BaseException:
            os.unlink(aside)
            raise


class _MetadataCache:
    """Completion metadata, re-read after DDL, `\\c` or `\\refresh`, and when the catalogs'
    fingerprint changed since it was read (a migration run in another terminal, DDL rolled back).

    Inside the user's transaction the names read last are offered as they are: a read there
    takes the transaction's snapshot at the Tab (a `SET TRANSACTION ISOLATION LEVEL` typed after
    a keyword's Tab failed, and aborted the transaction) and waits, keys and all, for a
    DEFERRABLE transaction's safe snapshot. It reads there only after the user's own DDL (the
    snapshot is taken by then), waiting at most WAIT_MS; when nothing was read yet, it reads
    through a session of its own."""

    WAIT_MS = 2000

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self.value: Metadata | None = None
        self.version: str | None = None
        self.stale = True
        shell.on_schema_change.append(self.invalidate)

    def invalidate(self) -> None:
        self.stale = True

    def __call__(self) -> Metadata | None:
        conn = self.shell.conn
        try:
            if conn.info.transaction_status == TransactionStatus.IDLE:
                version = catalog_version(conn)
                if self.stale or version != self.version:
                    self._read(conn, None, version)
            elif self.value is None:
                self._read(None, self.WAIT_MS, None)
            elif self.stale:  # read again when idle: the transaction may roll its DDL back
                self._read(conn, self.WAIT_MS, None)
        except Exception:  # noqa: BLE001 - completion must never break the prompt
            return self.value
        return self.value

    def _read(self, conn: psycopg.Connection | None, timeout_ms: int | None, version: str | None) -> None:
        """Read the names through ``conn``, or None: a session of the shell's own (never asking
        for a password); a failed read keeps the names read before."""
        if conn is None:
            target = dataclasses.replace(self.shell.target, prompt_password=False, never_prompt=True)
            with connect(target) as aside:
                self.value = load_metadata(aside, self.value, statement_timeout_ms=timeout_ms)
        else:
            self.value = load_metadata(conn, self.value, statement_timeout_ms=timeout_ms)
        self.version, self.stale = version, False


def _key_bindings(shell: Shell) -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter", filter=is_searching)
    def _run_found(event) -> None:
        """Enter in Ctrl-R's search runs the line found, as readline's does in psql (the
        bindings below took the search field for the buffer: the line found vanished and
        what was typed next went into a search no longer shown)."""
        search.accept_search()
        buffer = event.app.current_buffer
        if submits(substitute(buffer.text, shell.variables), _single_line(shell)):
            buffer.validate_and_handle()

    @bindings.add("enter", filter=(emacs_insert_mode | vi_insert_mode) & ~is_searching)  # (the bindings below win where they apply)
    def _newline(event) -> None:
        """A new line after the whole line, as readline hands psql the line wherever the
        cursor is (breaking it at the cursor split a word in two); prompt_toolkit's own also
        copies the line's indentation, which psql does not: inside a string that changed data."""
        buffer = event.current_buffer
        buffer.cursor_position += buffer.document.get_end_of_line_position()
        buffer.newline(copy_margin=False)

    @bindings.add("enter", filter=~is_searching & Condition(lambda: submits(substitute(get_app().current_buffer.text, shell.variables), _single_line(shell))))
    def _accept(event) -> None:
        event.current_buffer.validate_and_handle()

    @bindings.add("enter", filter=~is_searching & Condition(lambda: _assistance_word(get_app().current_buffer.text.rpartition("\n")[2]) is not None))
    def _assist(event) -> None:
        """`help`, `quit` or `exit` alone: what psql does with them (handle_line); after other
        text, psql's reminder, and the line is the query's as any other (`exit;` sends it)."""
        buffer = event.current_buffer
        before, _, line = buffer.text.rpartition("\n")
        if not before.strip("\n"):
            buffer.validate_and_handle()
            return
        if _assistance_word(line) == "help":
            reminder = "Use \\? for help or press control-C to clear the input buffer."
        else:
            state = line_prompt(buffer.text, buffer.text.count("\n"), numbered=False)[0]
            reminder = "Use \\q to quit." if state in (READY, CONTINUE, PAREN) else "Use control-D to quit."
        run_in_terminal(lambda: shell.output.say(reminder + "\n"))
        if submits(substitute(buffer.text, shell.variables), _single_line(shell)):  # `exit;`: the line is the query's, sent as any
            buffer.validate_and_handle()
        else:
            buffer.newline(copy_margin=False)

    @bindings.add("c-d", filter=Condition(lambda: _on_empty_continuation_line(get_app().current_buffer)))
    def _end_of_input(event) -> None:
        """Ctrl-D on an empty line after query text: psql's readline gets no line there, which
        ends its input (`\\q`), the unfinished statement with it; prompt_toolkit saw text in
        its buffer and did nothing."""
        event.app.exit(exception=EOFError)

    @bindings.add("c-@")
    def _set_mark(event) -> None:
        """Ctrl-Space: readline's set-mark, which shows nothing. prompt_toolkit's starts a
        selection, where the keys typed next, Enter included, were dropped without a word."""

    @bindings.add("f4")
    def _toggle_vi(event) -> None:
        app = event.app
        app.editing_mode = EditingMode.EMACS if app.editing_mode == EditingMode.VI else EditingMode.VI

    return bindings


def _on_empty_continuation_line(buffer: Buffer) -> bool:
    document = buffer.document
    return bool(buffer.text) and document.is_cursor_at_the_end and document.current_line == ""


def run_interactive(shell: Shell, *, vi: bool = False, input: Input | None = None, output: PTOutput | None = None) -> int:
    """Read-eval-print until \\q or Ctrl-D; returns the process exit code."""
    metadata = _MetadataCache(shell)
    prompts = shell.prompts
    session: PromptSession[str] = PromptSession(
        history=PrivateHistory(history_path(), control=lambda: shell.variables.get("HISTCONTROL", "none"), warn=shell.error),
        lexer=PygmentsLexer(PostgresLexer),
        completer=SQLCompleter(metadata, keyword_case=lambda: shell.variables.get("COMP_KEYWORD_CASE", "preserve-upper")),
        complete_while_typing=False,
        multiline=True,
        key_bindings=_key_bindings(shell),
        vi_mode=vi,
        prompt_continuation=lambda width, line, wrap: "" if wrap else _continuation(prompts, line),  # readline's wrap: no prompt
        bottom_toolbar=lambda: shell.questions.status() if shell.questions is not None else None,  # type: ignore[attr-defined]
        refresh_interval=0.5,  # the toolbar follows the model's load while nothing is typed
        enable_suspend=True,  # Ctrl-Z stops the shell, as it stops psql
        input=input,
        output=output,
    )

    _bounded_undo(session.default_buffer)

    def start_model() -> None:
        """The model starts loading a moment after the first prompt is drawn, so its imports
        never compete with the prompt; a `?` typed sooner starts it at once."""
        if shell.questions is not None and not loader_scheduled:
            loader_scheduled.append(True)
            timer = threading.Timer(MODEL_LOAD_DELAY_S, shell.questions.start_loading)  # type: ignore[attr-defined]
            timer.daemon = True
            timer.start()

    loader_scheduled: list[bool] = []
    shell.history = lambda: list(session.history.get_strings())
    shell.remember = session.history.append_string
    if shell.questions is not None:
        shell.questions.confirm = _line_reader(session)  # type: ignore[attr-defined]
        shell.questions.remember = session.history.remember_answer  # type: ignore[attr-defined]
    eofs = 0  # Ctrl-Ds in a row (IGNOREEOF)
    while True:
        shell.reconnect_if_needed()
        shell.line_starts()
        default, shell.redisplay = shell.take_prompt_text(), False  # shown in the editing area
        try:
            text = session.prompt(_styled(prompts.first()), default=default, pre_run=start_model)
        except KeyboardInterrupt:
            continue  # Ctrl-C clears the line, as in psql
        except EOFError:
            eofs += 1
            if ends_at_eof(shell, eofs) and quit_is_confirmed(_line_reader(session), shell):
                break
            continue
        eofs = 0
        try:
            keep_going = handle_line(shell, text)
        except KeyboardInterrupt:  # Ctrl-C outside a query (e.g. while printing): back to the prompt
            shell.error("Cancelled.")
            continue
        if not keep_going and quit_is_confirmed(_line_reader(session), shell):
            break
    history = session.history
    if isinstance(history, PrivateHistory):
        size = parse_int(shell.variables.get("HISTSIZE", "500"))
        history.keep_last(500 if size is None else size)
    shell.close()
    return 0


_UNDO_STEPS = 200


def _bounded_undo(buffer: Buffer) -> None:
    """prompt_toolkit keeps the whole text once per key typed for undo, so a long line typed
    or pasted without bracketed paste (200,000 characters took gigabytes) grows memory as the
    square of its length; only the last _UNDO_STEPS are kept."""
    save = buffer.save_to_undo_stack

    def bounded(clear_redo_stack: bool = True) -> None:
        save(clear_redo_stack)
        del buffer._undo_stack[:-_UNDO_STEPS]

    buffer.save_to_undo_stack = bounded  # type: ignore[method-assign]


def handle_line(shell: Shell, text: str) -> bool:
    """What was typed: meta-commands one after another as psql's backslash lexer ends them
    (``\\x \\t``, or ``\\\\`` before query text), then the query text, which waits in the
    next prompt's buffer until it is complete, as psql keeps it. False when the shell should quit."""
    word = _assistance_word(text.lstrip("\n"))
    if word == "help":
        shell.output.say(ASSISTANCE)
        return True
    if word is not None:  # quit, exit
        return False
    if (at := _question_line(text)) is not None:  # a question pasted after statements is input of its own
        return handle_line(shell, text[:at]) and shell.handle(text[at:])
    while starts_meta_command(text.lstrip()):
        text = text.lstrip()
        end = meta_command_end(text, 0, len(text))
        if not shell.handle(text[:end]):
            return False
        if shell.last_failed:  # psql throws the rest of the line away after an erroneous command
            return True
        text = text[after_meta_command(text, end) :]
    # psql's lexer reads a variable's value as it scans the line (`\set q 'select 1;'`, then
    # `:q`), and what it keeps in its buffer holds the value of that moment
    expanded = substitute(text, shell.variables)
    if _single_line(shell) and input_state(expanded) == CONTINUE:  # -S: the line's end ends the statement
        return shell.run_text(drop_empty_lines(expanded))
    if text.strip() and not is_complete(expanded):  # complete statements go at once
        end = complete_end(expanded)
        if end and not shell.run_text(drop_empty_lines(expanded[:end])):  # as Shell.handle: psql skips an empty line
            return False
        shell.pending_input = _line_ended(expanded[end:].lstrip())
        return True
    return shell.handle(text)


def _question_line(text: str) -> int | None:
    """Where a line that starts with `?` begins after complete input (a paste of statements,
    then a question, then more): asked there, as a script asks it, it was sent to the server
    with the statements around it ("syntax error at or near "?""). None when there is none
    after some input, or when a statement before it is unfinished: then the `?` is more of it
    (jsonb's operator), as psql reads it. Text left unfinished at one `?` line stays so up
    to the next unless a `;`, a backslash or a `*/` comes between: those lines are not scanned again
    (a statement pasted with thousands of them took minutes)."""
    unfinished_at = None
    for found in _QUESTION_LINE.finditer(text):
        if unfinished_at is not None and not _ENDS_INPUT.search(text, unfinished_at, found.start()):
            unfinished_at = found.start()
            continue
        if (before := text[: found.start() + 1]).strip():
            if is_complete(before):
                return found.start() + 1
            unfinished_at = found.start()
    return None


_QUESTION_LINE = re.compile(r"\n[ \t]*\?")
_ENDS_INPUT = re.compile(r"[;\\]|\*/")  # what can end unfinished input: a `;`, a meta-command, a comment's end


def _assistance_word(line: str) -> str | None:
    """"help", "quit" or "exit" when ``line`` is one of psql's assistance words."""
    match = _ASSISTANCE.fullmatch(line)
    return match.group(1).lower() if match else None


def _line_ended(held: str) -> str:
    """Query text kept for the next prompt (blanks inside an open quote kept), its last line
    ended: keys typed ahead start a line of their own, as in psql's buffer (not the end of a
    `--` comment)."""
    return held + "\n" if held.strip() else ""


def submits(text: str, single_line: bool = False) -> bool:
    """Whether Enter hands the buffer over rather than starting a new line: a complete
    buffer, or one with a complete statement before an unfinished one (psql sends those as
    soon as the line that completes them is read, and keeps the rest in its buffer); with
    ``single_line`` (SINGLELINE, -S) any statement outside quotes, comments and parentheses."""
    return is_complete(text) or complete_end(text) > 0 or (single_line and input_state(text) == CONTINUE)


def _single_line(shell: Shell) -> bool:
    return boolean(shell.variables.get("SINGLELINE"))


def _continuation(prompts: PromptRenderer, line: int) -> ANSI:
    """PROMPT2 for the buffer's line ``line`` (1: its second), with the %R and %l psql drew
    when that line began (so the line that ends the statement keeps its '-')."""
    state, number = line_prompt(get_app().current_buffer.text, line, numbered=prompts.numbers_lines)
    return _styled(prompts.continuation(state, number))


def _styled(prompt: str) -> ANSI:
    """A prompt's escape sequences as prompt_toolkit styles: it draws every cell itself, so a
    raw sequence (psql's %[ ... %] for readline) would be undone by the next cell's style."""
    return ANSI(prompt.replace("\001", "").replace("\002", ""))


def _line_reader(session: PromptSession[str]):
    """A one-line question on the same terminal; Ctrl-C or Ctrl-D answer "no"."""
    ask: PromptSession[str] = PromptSession(input=session.input, output=session.output, enable_suspend=True)

    def read(message: str) -> str:
        _drop_typed_ahead(session.input)
        try:
            return ask.prompt(message)
        except (KeyboardInterrupt, EOFError):
            return "n"

    return read


def _drop_typed_ahead(input: Input) -> None:
    """Keys typed at a terminal before a question is shown (while the model wrote the SQL) are
    no answer to it: a `yes` typed ahead ran a write no one had seen. They are dropped, those
    prompt_toolkit read ahead and those still in the terminal's buffer. (Piped input is a
    script of answers, kept.)"""
    try:
        fd = input.fileno()
    except (AttributeError, NotImplementedError, OSError, ValueError):
        return
    if not os.isatty(fd):
        return
    clear_typeahead(input)
    drop_unread(fd)


def ends_at_eof(shell: Shell, count: int) -> bool:
    """psql's Ctrl-D at the prompt, the ``count``-th in a row: below IGNOREEOF it only says how
    to leave; then it prints \\q (an empty line when QUIET) and the shell ends."""
    quiet = boolean(shell.variables.get("QUIET"))
    if count < (parse_int(shell.variables.get("IGNOREEOF", "0")) or 0):
        if not quiet:
            shell.error('Use "\\q" to leave nl2sql-shell.')
        return False
    shell.output.say("\n" if quiet else "\\q\n")
    return True


def quit_is_confirmed(ask: Callable[[str], str | None], shell: Shell) -> bool:
    """Quitting with an open transaction would roll it back: ask first (``ask`` shows the
    question and returns the answer)."""
    if not shell.in_transaction():
        return True
    answer = ask("There is an open transaction; quitting rolls it back. Quit anyway? [y/N] ") or ""
    return answer.strip().lower() in ("y", "yes")
