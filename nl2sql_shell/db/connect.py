"""Where to connect: psql's rules, with libpq (through psycopg 3) doing the heavy lifting.

libpq already understands URIs, key=value strings, PG* variables, ~/.pgpass and service
files, so we only assemble a conninfo from the command line and let it resolve the rest.
With no target at all we fall back to the embedded server and its demo database.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import locale
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from nl2sql_shell.terminal_prompt import is_terminal, simple_prompt

TARGET_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSERVICE")
APPLICATION_NAME = "nl2sql-shell"


@dataclass
class Target:
    """The connection the user asked for, as a conninfo string libpq will complete."""

    conninfo: str
    prompt_password: bool = False
    password: str | None = field(default=None, repr=False)
    never_prompt: bool = False  # -w: fail rather than ask for a password
    typed_user: str | None = None  # `\\c`'s user as typed on its line: -W's prompt names it (psql's names no other)

    def with_database(self, dbname: str | None = None, user: str | None = None, host: str | None = None, port: str | None = None, *,
                      reuse: bool | None = None, current: dict[str, str] | None = None, live: dict[str, str] | None = None) -> Target:
        """The `\\c` rule: replace what was given (names, or a whole connection string in
        ``dbname``; None or "-" is not given, "" is libpq's default), keep the rest of the
        current connection when ``reuse`` (psql's -reuse-previous; by default for names, not
        for a connection string), else leave the rest to libpq's defaults. ``current``: the
        user, host and port connected to now (default: this conninfo's). ``live``: the
        connection's own parameters (`live_parameters`), kept rather than this conninfo's
        text, as psql keeps PQconninfo's: a PGHOST changed by `\\setenv` since, or a service
        file, moved the next `\\c` (with the first server's password) to another server. A
        host given drops the old hostaddr, as in psql.

        A password (given in the conninfo or typed) stays only for the same user, host and
        port named without a connection string, as psql's keep_password: it is never offered
        to another server or as another user. -W asks again at every `\\c`, -w never asks.
        A ``passfile`` (the embedded server's) stays for another database, not for another host
        or port: there it would hide ~/.pgpass from libpq and offer that server our password;
        nor does the empty ``password=`` that came with it, which would hide PGPASSWORD.
        """
        string = is_connection_string(dbname)
        updates = conninfo_to_dict(dbname) if string else {k: v for k, v in {"dbname": dbname, "user": user, "host": host, "port": port}.items() if v is not None and v != "-"}
        typed = None if string else updates.get("user")
        if not (reuse if reuse is not None else not string):
            return Target(make_conninfo(**updates), self.prompt_password, never_prompt=self.never_prompt, typed_user=typed)
        params = conninfo_to_dict(self.conninfo)
        if live is not None:
            params = live | ({"password": params["password"]} if "password" in params else {})
        if "host" in updates:
            params.pop("hostaddr", None)
        now = {key: params.get(key) for key in ("user", "host", "port")} | (current or {})
        same_place = not string and all(updates[key] == now.get(key) for key in ("user", "host", "port") if key in updates)
        if any(params.get(key) != updates[key] for key in ("host", "port") if key in updates) and params.pop("passfile", None):
            if params.get("password") == "":
                params.pop("password")
        if not same_place and params.get("password"):
            params.pop("password")
        password = self.password if same_place and not self.prompt_password else None
        return Target(make_conninfo(**{**params, **updates}), self.prompt_password, password, self.never_prompt, typed)


def live_parameters(conn: psycopg.Connection) -> dict[str, str] | None:
    """The parameters a connection was made with (libpq's PQconninfo, less its compiled-in
    defaults and the password), whatever the environment says now; None when one is no UTF-8
    (the conninfo's text is used then)."""
    try:
        return conn.info.get_parameters()
    except UnicodeDecodeError:
        return None


def is_connection_string(text: str | None) -> bool:
    """Whether a database name argument is a whole conninfo or URI, as psql tells them apart."""
    return bool(text) and ("=" in text or "://" in text)


def wants_embedded(dbname: str | None, host: str | None, port: str | None, user: str | None) -> bool:
    """No argument and no PG* variable: the user has nothing to connect to, so we bring a server."""
    if any((dbname, host, port, user)):
        return False
    return not any(os.environ.get(name) for name in TARGET_VARIABLES)


def build_target(
    dbname: str | None = None,
    host: str | None = None,
    port: str | None = None,
    user: str | None = None,
    prompt_password: bool = False,
) -> Target:
    """psql's argument rules: the first argument may be a database name, a URI or a conninfo,
    whose own host, port and user win over -h, -p and -U (psql passes it as an expanded
    dbname after them, and libpq lets a later keyword win); a bad one is libpq's to report."""
    base = dbname if is_connection_string(dbname) else ""
    extra = {"host": host, "port": port, "user": user}
    if not base and dbname:
        extra["dbname"] = dbname
    with contextlib.suppress(psycopg.ProgrammingError, UnicodeError):
        given = conninfo_to_dict(base) if base else {}
        extra = {key: value for key, value in extra.items() if not given.get(key)}
    return Target(make_conninfo(base, **{k: v for k, v in extra.items() if v}), prompt_password)


def connect(target: Target, *, read_line: Callable[[], str] | None = None) -> psycopg.Connection:
    """Open an autocommit connection (psql's default). The password is asked for as psql asks:
    first with -W, else once when the server wants one that was not given (never with -w);
    without a terminal the answer is ``read_line``'s (a script on standard input), else
    standard input's. -W's prompt names the user only as `\\c` typed it, as psql's (at
    start-up psql 15 names none: it cannot be sure yet)."""
    if target.prompt_password and target.password is None:
        user = target.typed_user
        target.password = simple_prompt(f"Password for user {user}: " if user else "Password: ", echo=False, read_line=read_line)
    try:
        return _libpq_connect(target.conninfo, target.password)
    except ConnectFailed as exc:
        if exc.needs_password and target.password is None and not target.never_prompt:
            target.password = simple_prompt(f"Password for user {exc.user}: ", echo=False, read_line=read_line)
            return _libpq_connect(target.conninfo, target.password)
        raise


class ConnectFailed(psycopg.OperationalError):
    """libpq could not connect; its message, and whether a password would have helped."""

    def __init__(self, message: str, needs_password: bool, user: str) -> None:
        super().__init__(message)
        self.needs_password, self.user = needs_password, user


def _libpq_connect(conninfo: str, password: str | None) -> psycopg.Connection:
    """libpq's own connect (PQconnectdb), as psql's: it resolves host names and walks a list
    of hosts itself, so a failure is libpq's message word for word (``"localhost"
    (127.0.0.1)``, its hint line); psycopg's connect resolves names and tries each address on
    its own, and words the failure its way."""
    extra = {"fallback_application_name": APPLICATION_NAME, **({"password": password} if password is not None else {})}
    if _terminal_session() and "client_encoding" not in conninfo_to_dict(conninfo):
        extra["client_encoding"] = "auto"  # the terminal's, as psql asks for: a LATIN1 database's bytes were printed raw
    pgconn = pq.PGconn.connect(make_conninfo(conninfo, **extra).encode())
    if pgconn.status != pq.ConnStatus.OK:
        failed = ConnectFailed(pgconn.error_message.decode(errors="replace"), bool(pgconn.needs_password), (pgconn.user or b"").decode(errors="replace"))
        pgconn.finish()
        raise failed
    conn = psycopg.Connection(pgconn)
    conn.autocommit = True
    return conn


def _terminal_session() -> bool:
    """psql's rule for client_encoding=auto: standard input and output are both terminals and
    PGCLIENTENCODING is not set; and, unlike psql, a locale that names a character set (in the
    C or POSIX locale auto is SQL_ASCII, under which a database's other bytes came back as
    U+FFFD, written back so by \\gexec, and a non-ASCII database name was a traceback)."""
    if "PGCLIENTENCODING" in os.environ:
        return False
    if locale.nl_langinfo(locale.CODESET).upper().replace("-", "").replace("_", "") in ("ANSIX3.41968", "ASCII", "USASCII", "646"):
        return False
    return is_terminal(sys.stdin) and is_terminal(sys.stdout)


def describe(conn: psycopg.Connection, *, now: bool = False, place: bool = True) -> str:
    """The `\\conninfo` sentence, worded as psql words it; ``now``: `\\c`'s, which says where
    only with ``place`` (psql leaves it out when the host and port stay the same)."""
    info = conn.info
    sentence = f'You are {"now " if now else ""}connected to database "{info.dbname}" as user "{info.user}"'
    if not place:
        return sentence + "."
    host, addr = info.host, info.hostaddr
    if host.startswith("/") or not host:  # (psql's is_unixsock_path: a hostaddr given with no host reads as the socket default)
        where = f'on address "{addr}" at port "{info.port}"' if addr else f'via socket in "{host}" at port "{info.port}"'
    else:
        where = f'on host "{host}"' + (f' (address "{addr}")' if addr and addr != host else "") + f' at port "{info.port}"'
    return f"{sentence} {where}."


def ssl_line(conn: psycopg.Connection) -> str | None:
    """psql's printSSLInfo line for a connection over TLS (the banner, `\\conninfo`, `\\c`
    at the prompt); None for one in clear text."""
    if not conn.pgconn.ssl_in_use:
        return None
    attribute = _ssl_attribute()

    def read(name: bytes) -> str | None:
        value = attribute(conn.pgconn.pgconn_ptr, name) if attribute is not None else None
        return value.decode(errors="replace") if value else None

    compression = read(b"compression")
    return f"SSL connection (protocol: {read(b'protocol') or 'unknown'}, cipher: {read(b'cipher') or 'unknown'}, compression: {'on' if compression and compression != 'off' else 'off'})"


@functools.cache
def _ssl_attribute() -> Callable[[int, bytes], bytes | None] | None:
    """libpq's PQsslAttribute, from the very library psycopg loaded (psycopg wraps PQsslInUse
    alone; its binary wheel carries a libpq of its own, whose PGconn another libpq must not
    read): found in /proc/self/maps, else where the system keeps libpq."""
    path = None
    with contextlib.suppress(OSError), open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        path = next((line.split()[-1] for line in maps if "/libpq" in line), None)
    path = path or ctypes.util.find_library("pq")
    try:
        function = ctypes.CDLL(path).PQsslAttribute if path else None
    except (OSError, AttributeError):
        return None
    if function is not None:
        function.argtypes, function.restype = [ctypes.c_void_p, ctypes.c_char_p], ctypes.c_char_p
    return function


def libpq_message(exc: BaseException) -> str:
    """libpq's own text of a failed connection, as psql prints it (its last newline dropped, as
    psql's pg_log_error drops it; a hint line after it keeps its tab)."""
    return str(exc).removesuffix("\n").removeprefix("connection failed: ") or exc.__class__.__name__
