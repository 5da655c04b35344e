"""From parsed options to a running shell: pick the server, connect, choose the front end."""

from __future__ import annotations

import difflib
import signal
import sys
from typing import TYPE_CHECKING

import psycopg

from nl2sql_shell import __version__
from nl2sql_shell.db import connect as db_connect
from nl2sql_shell.db.execute import Settings
from nl2sql_shell.display_flags import DisplayFlags, apply_flags
from nl2sql_shell.output import Output, write_as_read
from nl2sql_shell.repl.pset import variable_changed
from nl2sql_shell.repl.shell import ConnectionLost, Shell, StopScript
from nl2sql_shell.repl.variables import boolean, connection_variables
from nl2sql_shell.session_flags import SessionFlags
from nl2sql_shell.terminal_prompt import is_terminal

if TYPE_CHECKING:
    from nl2sql_shell.db.embedded_session import EmbeddedSession

EXIT_OK, EXIT_ERROR, EXIT_CONNECTION, EXIT_SCRIPT_STOPPED = 0, 1, 2, 3


def _embedded_target() -> tuple[db_connect.Target, str, EmbeddedSession]:
    """Start (or attach to) the embedded server and make sure the demo database exists."""
    from nl2sql_shell.db import embedded
    from nl2sql_shell.db.demo import DEMO_DBNAME, ensure_demo
    from nl2sql_shell.db.embedded_session import EmbeddedSession

    server = embedded.start()
    created = ensure_demo(server.conninfo("postgres"), server.conninfo)
    import atexit

    session = EmbeddedSession(server)
    atexit.register(session.stop)
    note = (
        f"Embedded PostgreSQL (data in {server.data_dir}); "
        + ("created the demo database" if created else "demo database")
        + f" \"{DEMO_DBNAME}\". Pass a database name or set PGHOST to use your own server."
    )
    return db_connect.Target(server.conninfo(DEMO_DBNAME)), note, session


SUBCOMMANDS = ("eval", "bench", "finetune", "proxy")


def run_shell(
    *,
    target: str | None,
    username_arg: str | None,
    host: str | None,
    port: str | None,
    username: str | None,
    dbname: str | None,
    prompt_password: bool,
    commands: tuple[str, ...],
    files: tuple[str, ...],
    variables: tuple[str, ...],
    csv: bool,
    tuples_only: bool,
    expanded: bool,
    no_psqlrc: bool,
    quiet: bool,
    demo: bool,
    vi: bool,
    model: str | None,
    model_url: str | None,
    adapter: str | None,
    quantize: str | None,
    device: str | None,
    backend: str | None,
    yes: bool,
    candidates: int | None,
    rules: str | None = None,
    actions: tuple[tuple[str, str], ...] | None = None,
    session: SessionFlags = SessionFlags(),
    display: DisplayFlags = DisplayFlags(),
) -> int:
    """Returns psql's exit codes: 0 ok, 1 error, 2 connection lost, 3 stopped by ON_ERROR_STOP.
    ``actions``: the -c ("c") and -f ("f") arguments in command-line order (all -c first if None)."""
    from nl2sql_shell.config import enabled_rules, load_config, model_settings, setting

    # Ctrl-C cancels a query or generation as in psql, which sets its own handler: even when
    # started with SIGINT ignored (a background job of a non-interactive shell, nohup).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    write_as_read(sys.stdout)
    write_as_read(sys.stderr)
    config = load_config()
    try:
        rules_on = enabled_rules(rules, config)
    except ValueError as exc:  # RuleError: a name in the config's `rules` that no rule has
        print(f"nl2sql-shell: {exc}", file=sys.stderr)
        return EXIT_ERROR
    # every setting of the file read at once: a bad one stops before anything connects or runs
    vi = vi or setting(config, "vi", bool, False)
    flags = {"model": model, "model_url": model_url, "adapter": adapter, "quantize": quantize, "device": device, "backend": backend, "candidates": candidates}
    asking = model_settings(config, **flags)
    settings = Settings(expanded="on" if expanded else "off", tuples_only=tuples_only, format="csv" if csv else "aligned", quiet=quiet)
    errors = apply_flags(settings, display)
    if errors:
        print("".join(f"nl2sql-shell: error: {line}\n" for line in errors), end="", file=sys.stderr)
        return EXIT_ERROR
    dbname = dbname or target
    username = username or username_arg
    note = embedded_session = None
    try:
        if demo or db_connect.wants_embedded(dbname, host, port, username):
            conn_target, note, embedded_session = _embedded_target()
        else:  # -l without a database lists from postgres, whatever PGDATABASE or a service says (psql)
            conn_target = db_connect.build_target(dbname or ("postgres" if session.list_databases else None), host, port, username, prompt_password)
            conn_target.never_prompt = session.no_password
        conn = db_connect.connect(conn_target)
    except psycopg.Error as exc:
        print(f"nl2sql-shell: error: {db_connect.libpq_message(exc)}", file=sys.stderr)
        if dbname and (meant := difflib.get_close_matches(dbname, SUBCOMMANDS, n=1, cutoff=0.75)):  # `nl2sql-shell proxxy`: psql's rules read a database name
            print(f"nl2sql-shell: hint: {dbname} was read as a database name; the command is {meant[0]}", file=sys.stderr)
        return EXIT_CONNECTION
    except Exception as exc:  # noqa: BLE001 - e.g. the embedded server could not start
        print(f"nl2sql-shell: error: {exc}", file=sys.stderr)
        return EXIT_CONNECTION

    scripted = bool(commands or files) or not is_terminal(sys.stdin)
    output = Output()
    output.configure_pager(settings.pager, settings.pager_min_lines)
    if display.output:
        try:
            output.redirect(display.output)
        except OSError as exc:  # psql gives up at once
            print(f"nl2sql-shell: error: {display.output}: {exc.strerror}", file=sys.stderr)
            conn.close()
            return EXIT_ERROR
    shell = Shell(conn_target, conn, interactive=not scripted, output=output, settings=settings, banner_note=note,
                  revive=embedded_session.revive if embedded_session else None)
    if quiet:
        shell.variables["QUIET"] = "on"
    shell.variables.update(session.variables())  # -a -e -b -E -s -S, before -v as psql parses them
    for assignment in variables:  # psql: NAME=VALUE sets, a bare NAME unsets
        name, equals, value = assignment.partition("=")
        if equals:
            shell.variables[name] = value
        else:
            shell.variables.pop(name, None)
        if not variable_changed(shell, name, lambda text: print(f"nl2sql-shell: error: {text}", file=sys.stderr)):  # FETCH_COUNT=abc: psql stops
            return EXIT_ERROR
    shell.variables.update(connection_variables(conn))  # psql connects after -v: DBNAME, USER... are the connection's
    _attach_questions(shell, **asking, assume_yes=yes, rules=rules_on)
    try:
        if session.log_file:
            try:
                shell.output.log = open(session.log_file, "a", encoding="utf-8")  # noqa: SIM115 - open for the session
            except OSError as exc:
                print(f'nl2sql-shell: error: could not open log file "{session.log_file}": {exc.strerror}', file=sys.stderr)
                return EXIT_ERROR
        if session.list_databases:
            from nl2sql_shell.repl.metacommands import run as run_meta

            run_meta(shell, "\\l")
            return EXIT_ERROR if shell.last_failed else EXIT_OK
        if not no_psqlrc:
            from nl2sql_shell.repl.psqlrc import run_startup_files

            run_startup_files(shell)
        if scripted:
            if actions is None:
                actions = tuple(("c", text) for text in commands) + tuple(("f", name) for name in files)
            return _run_scripted(shell, actions, single_transaction=session.single_transaction)
        if not quiet:
            _banner(shell)
        if session.no_readline:  # -n: psql's prompt without readline (repl/plain.py)
            from nl2sql_shell.repl.plain import run_plain

            return run_plain(shell)
        from nl2sql_shell.repl.app import run_interactive

        return run_interactive(shell, vi=vi)
    finally:
        if shell.questions is not None:
            shell.questions.close()  # type: ignore[attr-defined]


def _attach_questions(shell: Shell, **options) -> None:
    from nl2sql_shell.repl.questions import QuestionHandler

    shell.questions = QuestionHandler(shell, **options)


def _run_scripted(shell: Shell, actions: tuple[tuple[str, str], ...], single_transaction: bool = False) -> int:
    """-c strings and -f files in command-line order, else stdin, as psql 15 runs them: the
    last one decides the exit code (a -c that failed: 1; a file: 0 unless ON_ERROR_STOP
    stopped it), and with ON_ERROR_STOP a failed one ends the run. ``single_transaction``
    (-1): all of them between BEGIN and COMMIT, or ROLLBACK when ON_ERROR_STOP ended the run."""
    from nl2sql_shell.repl.script import read_script, run_script

    def from_stdin() -> int:
        run_script(shell, read_script(None))
        return EXIT_OK if shell.connected else EXIT_CONNECTION

    run = (lambda: _run_actions(shell, actions)) if actions else from_stdin  # psql: stdin is a file then, -1 included
    try:
        if not single_transaction:
            return run()
        from nl2sql_shell.session_flags import run_single_transaction

        return run_single_transaction(shell, run)
    except (StopScript, KeyboardInterrupt):  # Ctrl-C between statements ends a script too
        return EXIT_SCRIPT_STOPPED
    except ConnectionLost:
        return EXIT_CONNECTION
    finally:
        shell.close()


def _run_actions(shell: Shell, actions: tuple[tuple[str, str], ...]) -> int:
    from nl2sql_shell.repl.command import run_command_string

    code = EXIT_OK
    for kind, value in actions:
        if kind == "c":
            try:
                code = EXIT_OK if run_command_string(shell, value) else EXIT_ERROR
            except StopScript:
                return EXIT_ERROR
        else:
            code = _run_file(shell, value)
        if code != EXIT_OK and boolean(shell.variables.get("ON_ERROR_STOP")):
            break
    return code


def _run_file(shell: Shell, name: str) -> int:
    """One -f file (``-`` is stdin); a \\q in it ends only the file, as in psql."""
    from nl2sql_shell.repl.script import directory_error, read_script, run_script

    try:
        text = read_script(None if name == "-" else name)
    except IsADirectoryError as exc:
        print(directory_error(name, exc), file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"nl2sql-shell: error: {name}: {exc.strerror}", file=sys.stderr)
        return EXIT_ERROR
    run_script(shell, text, source="<stdin>" if name == "-" else name)
    return EXIT_OK if shell.connected else EXIT_CONNECTION  # psql: a file that lost its connection


def _banner(shell: Shell) -> None:
    server = shell.conn.info.parameter_status("server_version") or "?"
    print(f"nl2sql-shell {__version__} (server {server})")
    if tls := db_connect.ssl_line(shell.conn):
        print(tls)
    if shell.banner_note:
        print(shell.banner_note)
    print('Type "help" or \\? for help, ? QUESTION to have the model write SQL.')
