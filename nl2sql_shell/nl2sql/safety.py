"""Does a statement write or have side effects? The first line of defence before running SQL.

The server runs model SQL in READ ONLY transactions; this classifier decides what the user is
asked to confirm, so it errs on the side of "write": only queries (SELECT, VALUES, set
operations), SHOW and EXPLAIN without ANALYZE are reads, and anything sqlglot cannot parse is
a write. Function calls are found in the token stream rather than the tree, so no spelling
(schema-qualified, double-quoted, upper case) or parse shape can hide one; comments and string
literals are tokens of their own and never trigger a match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from .parsing import DIALECT, PARSE_ERRORS, UnlikePostgres, parse_one, tokenize

UNPARSED = "could not be parsed; treated as a write"

# Functions with side effects: ending sessions, server files, configuration, sequences, locks,
# sleeping, replication state, large objects, remote connections, SQL run from a string.
_SIDE_EFFECT_FUNCTIONS = frozenset(
    {
        "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
        "pg_switch_wal", "pg_promote", "pg_start_backup", "pg_stop_backup",
        "pg_replication_slot_advance", "pg_notify", "pg_sleep", "pg_sleep_for", "pg_sleep_until",
        "pg_stat_file", "pg_import_system_collations", "pg_log_backend_memory_contexts",
        "pg_export_snapshot", "pg_current_xact_id", "txid_current", "pg_truncate_visibility_map",
        "pg_stat_statements_reset", "set_config", "nextval", "setval",
        "lo_import", "lo_export", "lo_unlink", "lo_create", "lo_creat", "lo_from_bytea", "lo_put",
        "lo_truncate", "lo_truncate64", "lo_open", "lowrite",
        "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "cursor_to_xml",
        "cursor_to_xmlschema", "ts_stat",
    }
)
_SIDE_EFFECT_PREFIXES = (
    "dblink", "pg_advisory", "pg_try_advisory", "pg_stat_reset", "pg_replication_origin_",
    "pg_logical_", "pg_create_", "pg_drop_", "pg_copy_", "pg_ls_", "pg_read_", "pg_file_",
    "pg_wal_replay_", "pg_backup_", "pg_restore_", "pg_clear_",
)
_FUNCTION_REASONS = {"set_config": "sets configuration (set_config)"}

_DDL_WORDS = frozenset({"CREATE", "ALTER", "DROP", "COMMENT", "GRANT", "REVOKE", "SECURITY", "IMPORT", "REASSIGN"})
_TRANSACTION_WORDS = frozenset({"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE"})
_STATEMENT_REASONS = {
    "SET": "sets configuration (SET)",
    "RESET": "sets configuration (RESET)",
    "DO": "DO block runs procedural code",
    "CALL": "CALL runs a procedure",
}
_DML = (exp.Insert, exp.Update, exp.Delete, exp.Merge)
_OFF = frozenset({"false", "off", "0"})


@dataclass
class Safety:
    """`writes` is true when running the SQL may change anything; `reasons` say what, one line each."""

    writes: bool
    reasons: list[str] = field(default_factory=list)


def classify(sql: str) -> Safety:
    try:
        tokens = tokenize(sql)
    except UnlikePostgres as exc:
        return Safety(True, [str(exc)])
    except TokenError:
        return Safety(True, [UNPARSED])
    statements = _split(tokens)
    reasons = [reason for chunk in statements for reason in _statement_reasons(sql, chunk)]
    reasons += _function_reasons(tokens)
    if reasons and len(statements) > 1:
        reasons.insert(0, f"{len(statements)} statements")
    return Safety(bool(reasons), list(dict.fromkeys(reasons)))


def is_read_only(sql: str) -> bool:
    return not classify(sql).writes


def _split(tokens: list[Token]) -> list[list[Token]]:
    """Statements as PostgreSQL sees them: token runs between semicolons, empty ones dropped."""
    chunks: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            chunks.append([])
        else:
            chunks[-1].append(token)
    return [chunk for chunk in chunks if chunk]


def _statement_reasons(sql: str, chunk: list[Token]) -> list[str]:
    first = chunk[0].text.upper()
    text = sql[chunk[0].start : chunk[-1].end + 1]
    if first == "EXPLAIN":
        return _explain_reasons(text[len(first) :]) if len(chunk) > 1 else [UNPARSED]
    if first == "SHOW":
        return []
    try:
        tree = parse_one(text)
    except PARSE_ERRORS:
        return [UNPARSED]
    reasons = [] if isinstance(tree, (exp.Query, exp.Values)) else [_describe(tree, chunk)]
    for node in tree.find_all(*_DML):
        if node is not tree:
            where = "data-modifying CTE" if node.find_ancestor(exp.CTE) else "data-modifying subquery"
            reasons.append(f"{where} ({node.key.upper()})")
    for select in tree.find_all(exp.Select):
        if select.args.get("into"):
            reasons.append("SELECT ... INTO creates a table")
    for lock in tree.find_all(exp.Lock):  # on a SELECT, or on a parenthesised one: `(SELECT ...) FOR UPDATE`
        reasons.append(f"FOR {'UPDATE' if lock.args.get('update') else 'SHARE'} locks rows")
    return reasons


def _describe(tree: exp.Expression, chunk: list[Token]) -> str:
    """One line naming a statement that is not a plain query."""
    words = [t.text.upper() for t in chunk[:2]]
    if isinstance(tree, _DML):
        return f"{tree.key.upper()} statement"
    if isinstance(tree, exp.Copy):
        return f"COPY ... {'FROM' if tree.args.get('kind') else 'TO'}"
    if words[0] in _DDL_WORDS:
        kind = tree.args.get("kind") if isinstance(tree, (exp.Create, exp.Drop, exp.Alter)) else None
        target = kind.upper() if isinstance(kind, str) else (words[1] if len(words) > 1 and words[0] in {"CREATE", "ALTER", "DROP"} else "")
        return f"DDL: {words[0]} {target}".rstrip()
    if words[0] in _TRANSACTION_WORDS:
        return f"transaction control ({words[0]})"
    return _STATEMENT_REASONS.get(words[0], f"{words[0]} statement")


def _explain_reasons(text: str) -> list[str]:
    """EXPLAIN only plans, unless ANALYZE makes it execute the statement it explains."""
    explained = explained_statement(text)
    if explained is None:
        return [UNPARSED]
    analyze, inner = explained
    reasons = classify(inner).reasons
    return reasons if analyze or reasons == [UNPARSED] else []


# What may stand between EXPLAIN's parentheses and be read as this check reads it: plain
# words, numbers and commas; a quoted or escaped option name could be ANALYZE.
_PLAIN_OPTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+|,")


def explained_statement(text: str) -> tuple[bool, str] | None:
    """(whether ANALYZE runs it, the statement) of what follows EXPLAIN; None: unreadable.

    sqlglot's tokenizer keeps everything after EXPLAIN as one string, so it is tokenized here.
    """
    try:
        rest = DIALECT.tokenize(text)
    except TokenError:
        return None
    analyze = False
    if rest and rest[0].token_type == TokenType.L_PAREN:
        close = next((i for i, t in enumerate(rest) if t.token_type == TokenType.R_PAREN), None)
        if close is None:
            return None
        if not all(_PLAIN_OPTION.fullmatch(t.text) for t in rest[1:close]):  # `U&"\\0061nalyze"`, `"analyze"`: PostgreSQL reads either
            return None
        options = [t.text.lower() for t in rest[1:close]]
        analyze = any(o in {"analyze", "analyse"} and (i + 1 >= len(options) or options[i + 1] not in _OFF) for i, o in enumerate(options))
        rest = rest[close + 1 :]
    while rest and rest[0].text.upper() in {"ANALYZE", "ANALYSE", "VERBOSE"}:
        analyze = analyze or rest[0].text.upper() != "VERBOSE"
        rest = rest[1:]
    return (analyze, text[rest[0].start :]) if rest else None


def _function_reasons(tokens: list[Token]) -> list[str]:
    reasons = []
    for i, token in enumerate(tokens[:-1]):
        if _is_unicode_identifier(tokens, i):
            reasons.append("unicode-escaped identifier (could hide a function name)")
        if tokens[i + 1].token_type != TokenType.L_PAREN or token.token_type.name.endswith("STRING"):
            continue
        name = token.text.lower()
        if name in _SIDE_EFFECT_FUNCTIONS or name.startswith(_SIDE_EFFECT_PREFIXES):
            reasons.append(_FUNCTION_REASONS.get(name, f"calls {name}()"))
    return reasons


def _is_unicode_identifier(tokens: list[Token], i: int) -> bool:
    """U&"..." spells an identifier with escapes, which a name match cannot see through."""
    if tokens[i].text.upper() != "U" or i + 2 >= len(tokens):
        return False
    amp, ident = tokens[i + 1], tokens[i + 2]
    return amp.text == "&" and ident.token_type == TokenType.IDENTIFIER and amp.start == tokens[i].end + 1 and ident.start == amp.end + 1
