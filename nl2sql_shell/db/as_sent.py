"""Whether the server reads a statement as the shell shows and checks it.

The checks, the proof and the confirmation all read the model's SQL as Python text. The server
reads the bytes psycopg sends, in the session's client encoding, and lexes them under the
session's settings, which a database's owner may set for everyone (`ALTER DATABASE ... SET`):

- in SJIS or EUC_JP, Python sends `¥` as the byte 0x5C, which the server reads as a backslash:
  `E'¥' AND x <> '` hides a call inside what the checks take for a string;
- with standard_conforming_strings off, a backslash in `'...'` escapes the next character, so a
  quote ends a string later than the checks saw. The shell runs reads with it on; a write runs
  in the session as it is.
"""

from __future__ import annotations

import psycopg


def text_encoding(encoding: str) -> str:
    """The codec the shell reads and writes a session's text with: the client encoding
    (psycopg's name for it), SQL_ASCII's "ascii" as UTF-8 (psql passes its bytes as they are)."""
    return "utf-8" if encoding == "ascii" else encoding


def sent_bytes(sql: str, encoding: str) -> bytes:
    """The bytes psql sends for ``sql`` (typed or read from a script): the text in the client
    encoding (Python's name), bytes that were no UTF-8 as they were read (surrogate escapes);
    under SQL_ASCII (psycopg's "ascii") the bytes as read, which the server takes unchecked."""
    return sql.encode(text_encoding(encoding), "surrogateescape")


def as_query(sql: str, encoding: str) -> str | bytes:
    """``sql`` for psycopg to send: as text, or as the bytes read where psycopg cannot encode
    it in the client encoding (SQL_ASCII's "ascii" refuses é; a byte read that the client
    encoding could not read is a surrogate escape), as psql sends the bytes it read."""
    if sql.isascii():
        return sql
    try:
        sql.encode(encoding)
        return sql
    except UnicodeEncodeError:
        pass
    try:
        return sent_bytes(sql, encoding)
    except UnicodeEncodeError:  # a character the client encoding has not: the UTF-8 typed
        return sql.encode("utf-8", "surrogateescape")


def unsent(conn: psycopg.Connection, sql: str) -> str | None:
    """Why ``sql`` would not reach the server as written, in this connection's client
    encoding; None when every character goes as itself."""
    codec = conn.info.encoding
    name = conn.info.parameter_status("client_encoding") or codec
    for ch in dict.fromkeys(sql):
        try:
            sent = ch.encode(codec)
        except UnicodeError:
            return f"client encoding {name} cannot send {ch!r}"
        # Every client encoding sends ASCII as itself; a character outside ASCII must go as
        # bytes that start outside it, or the server reads an ASCII character there (Python's
        # SHIFT_JIS_2004 sends ¥ as 0x5C and reads it back as ¥; the server reads a backslash).
        if sent.decode(codec) != ch or (not ch.isascii() and sent[0] < 0x80):
            return f"client encoding {name} sends {ch!r} as the byte(s) {sent!r}, which the server reads otherwise than the checks did"
    if sql.isascii() or name in ("UTF8", "SQL_ASCII") or _server_reads(conn, sql.encode(codec), name, sql):
        return None
    return f"client encoding {name} sends this statement as bytes the server reads as other characters than the checks did (its conversions and Python's differ)"


def _server_reads(conn: psycopg.Connection, sent: bytes, name: str, sql: str) -> bool:
    """Whether the server reads ``sent`` (in client encoding ``name``) as ``sql``'s own
    characters: Python's codecs and PostgreSQL's conversions disagree on some (SJIS and EUC_JP
    send `〜` as bytes the server reads as `～`, EUC_KR a Hangul syllable outside KS X 1001 as
    its letters), so a DELETE confirmed for one row removed another. Asked of the server, in
    a savepoint where a transaction is open: a conversion that fails counts as a no."""
    try:
        with conn.transaction():
            row = conn.execute(
                "SELECT pg_catalog.convert(%s::pg_catalog.bytea, %s::pg_catalog.name, 'UTF8'::pg_catalog.name) OPERATOR(pg_catalog.=) %s::pg_catalog.bytea",
                (sent, name, sql.encode("utf-8")),
            ).fetchone()
    except psycopg.Error:
        return False
    return bool(row and row[0])


def backslashes_differ(conn: psycopg.Connection, sql: str) -> str | None:
    """Why the server would end a string of ``sql`` elsewhere than the checks did, run as the
    session is: standard_conforming_strings off and a backslash in it; None otherwise."""
    if "\\" in sql and conn.info.parameter_status("standard_conforming_strings") == "off":
        return "standard_conforming_strings is off in this session, so the server reads this statement's backslashes as escapes, unlike the checks and the text shown; SET standard_conforming_strings = on to run it"
    return None


def undecodable(text: str) -> bool:
    """Whether ``text`` holds bytes that were not UTF-8 (read with surrogate escapes: typed,
    a script, an argument): they can only go to the server as the bytes they were."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
