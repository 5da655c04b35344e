"""Backslash commands. The `\\d` family comes from pgspecial (as in pgcli); the commands that
change the shell's own state (connection, output, display) are ours.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Callable
from pathlib import Path

import psycopg

from nl2sql_shell.db.cells import visible
from nl2sql_shell.db.connect import describe, is_connection_string, live_parameters, ssl_line
from nl2sql_shell.repl.conditionals import CONDITIONAL_COMMANDS, intercept
from nl2sql_shell.repl.describe import handler_for as describe_command
from nl2sql_shell.repl.listing import NotRun, print_listing
from nl2sql_shell.repl.pset import SHORTCUTS, assign_variable, variable_changed
from nl2sql_shell.repl.edit_object import edit_definition
from nl2sql_shell.repl.psql_only import NOT_IN_PSQL
from nl2sql_shell.repl.session_commands import register as register_session_commands
from nl2sql_shell.repl.shell import NOT_CONNECTED, ScriptCancelled, Shell, StopScript
from nl2sql_shell.repl.statements import split_meta_command
from nl2sql_shell.repl.variables import atoi, before_unterminated, drop_word_semicolons, echo, is_number, meta_arguments, parse_boolean, sql_identifier, substitute, valid_name

Handler = Callable[[Shell, str], bool]
_ALIASES = {"\\html": "\\H", "\\help": "\\h"}  # psql's other spellings of a command
_PGSPECIAL_ANSWERS = frozenset({"\\h"})  # psql's commands that pgspecial answers
# Commands whose handlers read the line themselves: their words as psql reads them, variables
# included (variables.meta_arguments), or the line as typed. The others get it with its
# variables substituted; substituting twice would read `:b` inside a variable's value.
_RAW_ARGUMENTS: set[str] = set()
_COMMANDS: dict[str, tuple[Handler, str, str]] = {}
# How many words each command of _COMMANDS reads; psql warns of each word after them, unread
# (`\timing on off`: "\timing: extra argument "off" ignored"). Commands that read the whole
# line (\echo, \set, \copy, \!, ...), the \d family (describe.py) and the \g family (send.py)
# are not here.
_WORDS_READ = {
    **dict.fromkeys(("\\a", "\\H", "\\q", "\\quit", "\\r", "\\reset", "\\p", "\\print", "\\conninfo", "\\copyright", "\\errverbose"), 0),
    **dict.fromkeys(("\\?", "\\timing", "\\x", "\\t", "\\encoding", "\\cd", "\\unset", "\\C", "\\f", "\\T", "\\o", "\\out"), 1),
    **dict.fromkeys(("\\i", "\\include", "\\ir", "\\include_relative", "\\restrict", "\\unrestrict", "\\password"), 1),
    **dict.fromkeys(("\\pset", "\\setenv", "\\prompt", "\\getenv", "\\e", "\\edit"), 2),
    **dict.fromkeys(("\\c", "\\connect"), 4),
}
# Commands whose words lose the `;`s that end them (psql reads them with its `semicolon` flag),
# as do the \\d family's (by their prefix) and \\watch's and \\crosstabview's (send.py); \\set,
# \\pset, \\echo, \\timing, \\g and the others keep them.
_SEMICOLONS_DROPPED = frozenset(
    ("\\C", "\\c", "\\connect", "\\cd", "\\e", "\\edit", "\\encoding", "\\h", "\\i", "\\include", "\\ir", "\\include_relative")
    + ("\\l", "\\list", "\\l+", "\\list+", "\\lo_export", "\\lo_import", "\\lo_unlink", "\\o", "\\out", "\\password", "\\s", "\\t", "\\w", "\\write", "\\x", "\\z")
)
# Commands that read their line themselves (a whole line, or words told apart their own way):
# the others' last word left inside a quote is absent after psql's "unterminated quoted string".
_OWN_LINE = frozenset({"\\!", "\\copy", "\\ef", "\\ev", "\\echo", "\\qecho", "\\warn", "\\g", "\\gx", "\\gset", "\\gexec", "\\gdesc", "\\crosstabview"})
# Commands of _COMMANDS that send something to the server (as do \d and the other listings):
# without a connection they fail with psql's "You are currently not connected to a database."
_SERVER_COMMANDS = frozenset(
    ("\\copy", "\\crosstabview", "\\g", "\\gx", "\\gset", "\\gdesc", "\\gexec", "\\watch", "\\ef", "\\ev")
    + ("\\lo_export", "\\lo_import", "\\lo_unlink", "\\password", "\\refresh")
)


def command(*names: str, syntax: str, help: str, raw: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler; ``raw``: it reads the line itself (see _RAW_ARGUMENTS)."""

    def register(handler: Handler) -> Handler:
        for name in names:
            _COMMANDS[name] = (handler, syntax, help)
            if raw:
                _RAW_ARGUMENTS.add(name)
        return handler

    return register


def blocked(shell: Shell, name: str) -> str | None:
    """Why the meta-command ``name`` may not run, wherever it is written (on its own line or
    after query text, `select 1 \\g |cmd`): a suite's dump runs only pg_dump's own
    (`Shell.meta_allowed`), and after pg_dump's `\\restrict KEY` only `\\unrestrict` runs, as in
    psql. None when it may."""
    if shell.meta_allowed is not None and name not in shell.meta_allowed:
        return f"{name}: not allowed here; only {', '.join(sorted(shell.meta_allowed))} run"
    if shell.restrict_key is not None and name != "\\unrestrict":
        return "backslash commands are restricted; only \\unrestrict is allowed"
    return None


def refused(shell: Shell, name: str) -> bool:
    """`blocked`, told: the command fails."""
    why = blocked(shell, name)
    if why is not None:
        shell.meta_error(why)
        shell.last_failed = True
    return why is not None


def run(shell: Shell, line: str) -> bool:
    """Run one meta-command line; False means quit. Between pg_dump's `\\restrict KEY` and
    `\\unrestrict KEY` every other meta-command is refused, as in psql (a dump's data cannot
    smuggle in `\\!`)."""
    name, argument = split_meta_command(line)
    if not name.startswith("\\"):
        return True
    if name in _ALIASES:
        line, name = _ALIASES[name] + line.lstrip()[len(name) :], _ALIASES[name]
    shell.last_failed = False
    if refused(shell, name):
        return True
    if not shell.conditions.active() and not _known(name):  # psql names an invalid command in a branch not taken too
        return _pgspecial(shell, line, known=False)
    if intercept(shell, name, argument):  # \\if and friends, or a branch not taken
        return True
    if name in _SEMICOLONS_DROPPED:  # (the \\d family drops them from the words it reads: describe.py)
        kept = drop_word_semicolons(argument)
        line, argument = line[: len(line) - len(argument)] + kept, kept
    entry = _COMMANDS.get(name)
    if (entry is None or name in _SERVER_COMMANDS) and not shell.require_connection():
        return True
    if name in NOT_IN_PSQL:
        return _pgspecial(shell, line, known=False)
    handler = entry[0] if entry is not None else describe_command(name)
    if handler is None:
        return _pgspecial(shell, line, known=not name.startswith("\\d"))  # a \\d name describe.py does not run is one psql does not
    # psql interpolates :name in a command's words once, not in \\copy's line nor \\ef's and
    # \\ev's (as typed); the \\d family reads its words itself (:'x' stays one quoted word,
    # \\sf's line is as typed)
    late = False  # a word left inside a quote that the command does not read: psql finds it after the command ran
    if entry is not None and name not in _OWN_LINE and not argument.lstrip().startswith("|") and (cut := before_unterminated(argument)) is not None:
        late = name in _WORDS_READ and len(meta_arguments(cut, shell.variables, evaluated=0)) >= _WORDS_READ[name]
        if not late:
            shell.meta_error("unterminated quoted string")  # psql's lexer: the last word is absent
        argument = cut
    raw = argument
    if entry is not None and name not in _RAW_ARGUMENTS and not argument.lstrip().startswith("|"):  # `\o |cmd` takes the line as typed
        argument = substitute(argument, shell.variables, sql=False)
    try:
        going_on = handler(shell, argument.strip())
    except NotRun:  # ECHO_HIDDEN noexec: its query shown, the command failed
        shell.last_failed = True
        return True
    if name in _WORDS_READ and not shell.last_failed and not raw.lstrip().startswith("|"):  # psql warns only after a command that succeeded; `\\o |cmd` takes the line
        for word in meta_arguments(raw, shell.variables, evaluated=0)[_WORDS_READ[name]:]:
            shell.meta_warning(f'{name}: extra argument "{word}" ignored')
        if late:
            shell.meta_error("unterminated quoted string")
    return going_on


def _known(name: str) -> bool:
    """Whether psql has a meta-command of this name."""
    return name in CONDITIONAL_COMMANDS or name in _PGSPECIAL_ANSWERS or (name in _COMMANDS and name not in NOT_IN_PSQL) or describe_command(name) is not None


def _register_psql_only() -> None:
    """\\ef, \\ev as psql 15 has them (repl/edit_object.py)."""
    for name, what, noun in (("\\ef", "FUNCNAME", "function"), ("\\ev", "VIEWNAME", "view")):
        command(name, syntax=f"{name} [{what}]", help=f"edit {noun} definition", raw=True)(lambda shell, argument, name=name: edit_definition(shell, name, argument))


def _register_large_objects() -> None:
    """\\lo_import, \\lo_export, \\lo_unlink (repl/large_objects.py)."""
    from nl2sql_shell.repl.large_objects import lo_export, lo_import, lo_unlink

    command("\\lo_import", syntax="\\lo_import FILE [COMMENT]", help="read large object from file", raw=True)(lo_import)
    command("\\lo_export", syntax="\\lo_export LOBOID FILE", help="write large object to file", raw=True)(lo_export)
    command("\\lo_unlink", syntax="\\lo_unlink LOBOID", help="delete a large object", raw=True)(lo_unlink)


def _register_senders() -> None:
    """\\g, \\gx, \\gset on a line of their own: the previous query again (repl/send.py)."""
    from nl2sql_shell.repl.send import registered

    helps = {
        "\\watch": ("\\watch [SEC]", "execute the query every SEC seconds"),
        "\\g": ("\\g [FILE]", "execute the query (to FILE)"),
        "\\gx": ("\\gx [FILE]", "as \\g, in expanded mode"),
        "\\gset": ("\\gset [PREFIX]", "execute the query and store its row in variables"),
        "\\gdesc": ("\\gdesc", "describe result of query, without executing it"),
        "\\gexec": ("\\gexec", "execute query, then execute each value in its result"),
        "\\crosstabview": ("\\crosstabview [COLUMNS]", "execute query and display result in crosstab"),
    }
    for name, (syntax, text) in helps.items():
        command(name, syntax=syntax, help=text, raw=True)(registered(name))


@command("\\restrict", syntax="\\restrict KEY", help="refuse meta-commands until \\unrestrict KEY (pg_dump files)")
def _restrict(shell: Shell, argument: str) -> bool:
    key = (argument.split() or [""])[0]
    if not key:
        shell.meta_error("\\restrict: missing required argument")
        shell.last_failed = True
        return True
    shell.restrict_key = key
    return True


@command("\\unrestrict", syntax="\\unrestrict KEY", help="allow meta-commands again")
def _unrestrict(shell: Shell, argument: str) -> bool:
    key = (argument.split() or [""])[0]
    if not key:
        shell.meta_error("\\unrestrict: missing required argument")
    elif shell.restrict_key is None:
        shell.meta_error("\\unrestrict: not currently in restricted mode")
    elif key != shell.restrict_key:
        shell.meta_error("\\unrestrict: wrong key")
    else:
        shell.restrict_key = None
        return True
    shell.last_failed = True
    return True


@command("\\q", "\\quit", syntax="\\q", help="quit nl2sql-shell")
def _quit(shell: Shell, _: str) -> bool:
    return False


@command("\\?", syntax="\\? [commands|options|variables]", help="show help on backslash commands", raw=True)
def _help(shell: Shell, argument: str) -> bool:
    """psql's `\\? [TOPIC]`; a topic psql has not (`\\? foo`) shows the commands, as in psql."""
    from nl2sql_shell.repl.help import backslash_help, topic_help

    words = meta_arguments(argument, shell.variables)
    database = shell.conn.info.dbname if shell.connected else None
    text = topic_help(words[0] if words else "commands", shell.settings, database)
    with shell.output.page(help_text=True) as write:  # a screen and more: paged as psql pages it
        write(text if text is not None else backslash_help(shell.settings, database))
    return True


@command("\\s", syntax="\\s [FILE]", help="display history or save it to file", raw=True)
def _history(shell: Shell, argument: str) -> bool:
    """psql's \\s: the history on the screen (paged), or written to FILE; without a prompt
    (a script, -c) there is none, which fails quietly as in psql. An empty line follows the
    screen's, as psql prints one."""
    words = meta_arguments(argument, shell.variables)
    path = os.path.expanduser(words[0]) if words else None
    entries = shell.history() if shell.history is not None else None
    ok = entries is not None
    if ok and path is None:
        with shell.output.page(log=False) as write:
            write("".join(visible(entry) + "\n" for entry in entries))  # accepted model SQL is there too
    elif ok:
        try:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("".join(entry + "\n" for entry in entries))
        except OSError as exc:
            shell.meta_error(f"could not save history to file \"{path}\": {exc.strerror}")
            ok = False
        if ok and not shell.settings.quiet:
            shell.output.say(f'Wrote history to file "{path}".\n')
    if path is None:
        shell.output.say("\n")
    shell.last_failed = not ok
    return True


@command("\\copyright", syntax="\\copyright", help="show PostgreSQL usage and distribution terms")
def _copyright(shell: Shell, _: str) -> bool:
    from nl2sql_shell.repl.help import COPYRIGHT

    shell.output.say(COPYRIGHT)  # psql's puts: standard output, whatever \\o says
    return True


@command("\\c", "\\connect", syntax="\\c [DBNAME|- USER|- HOST|- PORT|-] | conninfo", help="connect to a new database (the old connection stays if this fails)", raw=True)
def _connect(shell: Shell, argument: str) -> bool:
    """psql's `\\c [-reuse-previous=on|off] [DBNAME [USER [HOST [PORT]]] | CONNSTRING]`; with
    no argument it connects again with the same parameters. Each word is read as psql reads
    it (`meta_arguments`: a variable's value is one word, whatever blanks it holds; `run` has
    dropped the `;`s ending its words, so `db;` is db and `'db;'` is "db;"), then as a name
    that keeps its case (`sql_identifier`: `"MixedCase"` loses its quotes); a bare `-` is "the
    same"."""
    words = meta_arguments(argument, shell.variables, evaluated=4)
    reuse = None
    if words and words[0].startswith("-reuse-previous="):
        words = meta_arguments(argument, shell.variables, evaluated=5)
        value = sql_identifier(words.pop(0), downcase=False).partition("=")[2]
        if (reuse := parse_boolean(value)) is None:
            return _connect_error(shell, f'unrecognized value "{value}" for "-reuse-previous": Boolean expected')
    parts = [_connect_word(word) for word in words]
    dbname, user, host, port = (parts + [None] * 4)[:4]
    string = is_connection_string(dbname)
    if string and any(value is not None for value in (user, host, port)):
        return _connect_error(shell, "Do not give user, host, or port separately when using a connection string")
    if not shell.connected and not shell.lost and (reuse if reuse is not None else not string):
        return _connect_error(shell, "No database connection exists to re-use parameters from")
    try:
        info = shell.conn.info if shell.connected else None
        current = {"user": info.user, "host": info.host, "port": str(info.port)} if info else None
        target = shell.target.with_database(dbname, user, host, port, reuse=reuse, current=current, live=live_parameters(shell.conn) if info else None)
    except psycopg.ProgrammingError as exc:  # a connection string libpq cannot read
        shell.connect_failed(str(exc).strip())
        return True
    except UnicodeError:  # a %XX in a URI that is no UTF-8: psycopg reads the parsed string as UTF-8
        shell.connect_failed("a connection string whose bytes are no UTF-8 is not supported")
        return True
    shell.switch(target)
    return True


def _connect_word(word: str) -> str | None:
    """psql's read_connect_arg: None ("the same") for `-` and for a word left empty once its
    `;`s go, unless quotes made it so (`''` and `""` are libpq's default)."""
    name = sql_identifier(word, downcase=False)
    unquoted = word != "" and not any(quote in word for quote in "\"'")
    return None if unquoted and name in ("", "-") else name


def _connect_error(shell: Shell, text: str) -> bool:
    shell.meta_error(text)
    shell.last_failed = True
    return True


@command("\\conninfo", syntax="\\conninfo", help="display information about the current connection")
def _conninfo(shell: Shell, _: str) -> bool:
    """psql's sentence, then the password file when there is one (the embedded server's), so
    that the user can reach the same server with psql; it names the file, never the password."""
    if not shell.connected:  # psql's printf: standard output, whatever \\o says
        shell.output.say(NOT_CONNECTED + "\n")
        return True
    shell.output.say(describe(shell.conn) + "\n")
    if tls := ssl_line(shell.conn):
        shell.output.say(tls + "\n")
    passfile = psycopg.conninfo.conninfo_to_dict(shell.target.conninfo).get("passfile")
    if passfile:
        info = shell.conn.info
        psql = shlex.join(["psql", "-h", info.host, "-p", str(info.port), "-U", info.user, info.dbname])
        shell.output.say(f"Password file: {passfile} (psql: PGPASSFILE={shlex.quote(passfile)} {psql})\n")
    return True


@command("\\timing", syntax="\\timing [on|off]", help="toggle timing of commands", raw=True)
def _timing(shell: Shell, argument: str) -> bool:
    words = meta_arguments(argument, shell.variables)
    value = parse_boolean(words[0]) if words else not shell.settings.timing
    if value is None:  # psql keeps the setting, says so, and reports it as ever
        shell.meta_error(f'unrecognized value "{words[0]}" for "\\timing": Boolean expected')
        shell.last_failed = True
    else:
        shell.settings.timing = value
    if not shell.settings.quiet:
        shell.output.say(f"Timing is {'on' if shell.settings.timing else 'off'}.\n")
    return True


_MAX_INCLUDE_DEPTH = 64  # psql nests until it runs out of open files; Python's stack ends first


def _include(name: str) -> Handler:
    def handler(shell: Shell, argument: str) -> bool:
        words = meta_arguments(argument, shell.variables, evaluated=1)
        return include(shell, words[0] if words else None, name)

    return handler


for _name in ("\\i", "\\include"):
    command(_name, syntax="\\i FILE", help="execute commands from file", raw=True)(_include(_name))


def include(shell: Shell, argument: str | None, name: str = "\\i") -> bool:
    """Run the script ``argument`` names (a word as psql reads it). Errors in the file name it
    as typed (psql's ``FILE:LINE:``); bytes that are not UTF-8 fail only their own statement:
    the session goes on, an open transaction stays open (aborted by the server's refusal, as
    psql leaves it). A file that includes itself ends, one error line, at a depth psql's
    open-file limit would have ended it near."""
    from nl2sql_shell.repl.script import directory_error, read_script, run_script

    if argument is None:
        shell.meta_error(f"{name}: missing required argument")
        shell.last_failed = True
        return True
    if shell.include_depth >= _MAX_INCLUDE_DEPTH:
        shell.meta_error(f"{argument}: too many nested \\i (at most {_MAX_INCLUDE_DEPTH} files)")
        shell.last_failed = True
        return True
    try:
        text = read_script(None if argument == "-" else os.path.expanduser(argument))  # `-`: standard input, as psql
    except IsADirectoryError as exc:
        shell.error(directory_error(argument, exc))
        shell.last_failed = True
        return True
    except OSError as exc:
        shell.meta_error(f"{argument}: {exc.strerror}")
        shell.last_failed = True
        return True
    # psql reads ON_ERROR_STOP as each line starts: a file that stopped on an error it set
    # ON_ERROR_STOP for fails this \\i, and the including file goes on unless it had it on too.
    stop_here = shell.stops_on_error()
    shell.include_depth += 1
    try:
        run_script(shell, text, source="<stdin>" if argument == "-" else argument)  # a \\q in it ends that file only, as in psql
    except StopScript as stopped:
        if stop_here or (isinstance(stopped, ScriptCancelled) and (shell.include_depth > 1 or not shell.interactive)):
            raise  # (a cancel ends every including file, back to the prompt)
        shell.last_failed = True
        return True
    finally:
        shell.include_depth -= 1
    shell.last_failed = shell.last_failed or not shell.connected  # the file ended early, as psql's does
    return True


@command("\\o", "\\out", syntax="\\o [FILE]", help="send all query results to file (no argument: back to the screen)", raw=True)
def _out(shell: Shell, argument: str) -> bool:
    """FILE is a word as psql reads it (quotes, variables); `|command` takes the line as typed."""
    if argument.startswith("|"):
        target: str | None = argument
    else:
        words = meta_arguments(argument, shell.variables, evaluated=1)
        target = words[0] if words else None
        argument = target or ""
    try:
        shell.output.redirect(target)
    except OSError as exc:
        shell.meta_error(f"{argument}: {exc.strerror}")
        shell.last_failed = True
    return True


@command("\\echo", syntax="\\echo [-n] [TEXT]", help="write text to standard output (-n: no newline)", raw=True)
def _echo(shell: Shell, argument: str) -> bool:
    echo(argument, shell.variables, shell.output.say, shell.meta_error)  # standard output, whatever \\o says (\\qecho follows \\o)
    return True


@command("\\warn", syntax="\\warn [-n] [TEXT]", help="write text to standard error (-n: no newline)", raw=True)
def _warn(shell: Shell, argument: str) -> bool:
    def write(text: str) -> None:
        shell.errors.write(text)
        shell.errors.flush()

    echo(argument, shell.variables, write, shell.meta_error)
    return True


@command("\\getenv", syntax="\\getenv PSQLVAR ENVVAR", help="fetch environment variable", raw=True)
def _getenv(shell: Shell, argument: str) -> bool:
    """psql's \\getenv: the variable is set from the environment; left as it was when the
    environment has no such variable."""
    words = meta_arguments(argument, shell.variables)
    if len(words) < 2:
        shell.meta_error("\\getenv: missing required argument")
        shell.last_failed = True
        return True
    name, value = words[0], os.environ.get(words[1])
    if not valid_name(name):
        shell.meta_error(f'invalid variable name: "{name}"')
        shell.last_failed = True
    elif value is not None:
        assign_variable(shell, name, value)
    return True


@command("\\set", syntax="\\set [NAME [VALUE]]", help="set a variable (:NAME in SQL; AUTOCOMMIT, ON_ERROR_STOP, ON_ERROR_ROLLBACK, FETCH_COUNT)", raw=True)
def _set(shell: Shell, argument: str) -> bool:
    """psql's \\set: the value is the rest of the words joined without blanks, quotes read as
    psql reads them (`\\set name 'O''Reilly'` stores O'Reilly); no words lists the variables."""
    words = meta_arguments(argument, shell.variables)
    if not words:
        for name, value in sorted(shell.variables.items()):
            shell.output.say(f"{name} = '{value}'\n")  # psql's printf, not into \\o
        return True
    name, value = words[0], "".join(words[1:])
    if not valid_name(name):
        shell.meta_error(f'invalid variable name: "{name}"')
        shell.last_failed = True
        return True
    assign_variable(shell, name, value)
    return True


@command("\\unset", syntax="\\unset NAME", help="unset (delete) a variable", raw=True)
def _unset(shell: Shell, argument: str) -> bool:
    words = meta_arguments(argument, shell.variables)
    if not words:
        shell.meta_error("\\unset: missing required argument")
        shell.last_failed = True
        return True
    shell.variables.pop(words[0], None)
    variable_changed(shell, words[0])
    return True


@command("\\refresh", syntax="\\refresh", help="re-read the schema (completion and ? questions)")
def _refresh(shell: Shell, _: str) -> bool:
    shell.schema_changed()
    shell.output.write_unlogged("Schema refreshed.\n")
    return True


@command("\\e", "\\edit", syntax="\\e [FILE] [LINE]", help="edit the query buffer (or the last query, or FILE) with an external editor")
def _edit(shell: Shell, argument: str) -> bool:
    edit_buffer(shell, "", argument)
    return True


def _read_edited(path: Path) -> str:
    """An edited file's text, bytes that are not UTF-8 kept as read (as a script's)."""
    return path.read_bytes().decode("utf-8", "surrogateescape")


def edit_buffer(shell: Shell, buffer: str, argument: str) -> str:
    """psql's `\\e [FILE] [LINE]`: FILE, else the query ``buffer``, else the last query, in
    the user's editor (edit_object.run_editor), at LINE; what it leaves is read as input
    (Shell.take_edited). Left unchanged, the buffer stays as it was, and the last query or the
    file is not run: the buffer is cleared. Returns what stays of the buffer it was given:
    nothing, as what stays is the editor's (Shell.pending_input); on an error, the buffer."""
    from nl2sql_shell.repl.edit_object import EditError, run_editor

    if not shell.require_query_buffer():
        return buffer
    words = meta_arguments(argument, shell.variables, evaluated=2)[:2]
    if len(words) == 1 and is_number(words[0].strip(" \t")):  # psql: a lone number is the line
        words = ["", words[0]]
    name, line = (words + ["", ""])[:2]
    if line and atoi(line) < 1:
        shell.meta_error(f"invalid line number: {line}")
        shell.last_failed = True
        return buffer
    try:
        if name:
            path = Path(os.path.expanduser(name))
            if not path.exists():
                raise EditError(f"{name}: No such file or directory")
            before = _read_edited(path)
            run_editor(str(path), atoi(line))
            text: str | None = _read_edited(path) if path.exists() else None
        else:
            with tempfile.NamedTemporaryFile("w+", prefix=f"psql.edit.{os.getpid()}.", suffix=".sql", delete=False) as handle:
                before = buffer or shell.previous_query()
                before += "\n" if before and not before.endswith("\n") else ""  # psql ends the last line of what it hands the editor
                handle.write(before)
            try:
                run_editor(handle.name, atoi(line))
                text = _read_edited(Path(handle.name))
            finally:
                os.unlink(handle.name)
    except EditError as exc:
        if str(exc):
            shell.meta_error(str(exc))
        shell.last_failed = True
        return buffer
    except OSError as exc:  # a directory, a file that cannot be read: one line, the session goes on
        shell.meta_error(f"{name}: {exc.strerror or exc}")
        shell.last_failed = True
        return buffer
    if text is None or text == before:
        text = before if buffer and not argument else ""  # the buffer stays; the rest is cleared
    shell.take_edited(text)
    return ""


@command("\\copy", syntax="\\copy TABLE|(QUERY) FROM|TO FILE|STDIN|STDOUT [WITH (...)]", help="copy data between a file on this machine and the server", raw=True)
def _copy(shell: Shell, argument: str) -> bool:
    from nl2sql_shell.repl.copy import slash_copy

    return slash_copy(shell, argument)


@command("\\examples", syntax="\\examples [add QUESTION => SQL]", help="list (or add) the question/SQL pairs offered to the model")
def _examples(shell: Shell, argument: str) -> bool:
    if shell.questions is None:
        shell.error("? questions need the model extras: pip install 'nl2sql-shell[llm]'")
        return True
    shell.questions.examples_command(argument)  # type: ignore[attr-defined]
    return True


@command("\\explain-last", syntax="\\explain-last", help="show how the last ? question was answered (tables given, attempts)")
def _explain_last(shell: Shell, _: str) -> bool:
    if shell.questions is None:
        shell.error("no question asked yet")
        return True
    shell.questions.explain_last()  # type: ignore[attr-defined]
    return True


def _pgspecial(shell: Shell, line: str, known: bool = True) -> bool:
    """The `\\d` family and friends, through pgspecial, printed in psql's aligned format.
    A command pgspecial has only as a placeholder is one error line, never a traceback."""
    from pgspecial.main import CommandNotFound, PGSpecial

    special = PGSpecial()
    try:
        if not known:
            raise CommandNotFound(line)
        with shell.conn.cursor() as cur:
            results = special.execute(cur, line)
            for title, rows, headers, status in results:
                _print_special(shell, title, rows, headers, status)
    except (RuntimeError, NotImplementedError, AttributeError):
        shell.meta_error(f"{line.split()[0]}: not supported by nl2sql-shell")
        shell.last_failed = True
    except CommandNotFound:
        shell.meta_error(f"invalid command {line.split()[0]}")
        if shell.interactive:
            shell.error("Try \\? for help.")
        shell.last_failed = True
    except psycopg.Error as exc:
        from nl2sql_shell.db.execute import error_text

        shell.error(shell.location + error_text(exc, shell.settings.messages))
        shell.last_failed = True
    return True


def _print_special(shell: Shell, title: str | None, rows, headers, status: str | None) -> None:
    if title and headers:
        print_listing(shell, title, list(headers), [tuple(None if v is None else str(v) for v in row) for row in rows or []])
        return
    if title:
        shell.output.write_unlogged(title + "\n")
    if headers:
        remaining = [tuple(None if v is None else str(v) for v in row) for row in (rows or [])]

        def fetchmany(count: int):
            batch, remaining[:count] = remaining[:count], []
            return batch

        shell.executor.print_rows(list(headers), [False] * len(headers), fetchmany)
    if status and not (headers and status.startswith("SELECT")):  # psql prints no tag for listings
        with shell.output.page(log=False) as write:  # `\\h`'s text: paged, as psql's
            write(status + "\n")


def _register_display() -> None:
    """\\pset and its shortcuts \\a \\t \\f \\H \\C \\T \\x (repl/pset.py)."""
    for name, (handler, syntax, text) in SHORTCUTS.items():
        command(name, syntax=syntax, help=text, raw=True)(handler)


_register_senders()
_register_large_objects()
register_session_commands(command)
_register_psql_only()
_register_display()
