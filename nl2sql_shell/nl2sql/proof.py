"""Is this model SQL harmless? A positive proof from the live server's catalog.

The safety classifier (safety.py) says whether a statement *writes*; it cannot see what a
function, a view, a policy or an operator does once it is called. This module proves the
opposite claim, harmlessness, before any model SQL runs without a typed `yes` (EXPLAIN,
voting, `--yes`, Enter at the confirmation). Everything the statement may call is resolved
against the server it will run on, and only what is known to be harmless passes:

* functions: built-ins (in pg_catalog, OID below 16384, not from an extension, their catalog
  row as initdb left it: see _INITDB_XID) that are immutable or stable, minus DENIED, plus
  ALLOWED_VOLATILE (TYPE_DISPATCH never by name, and PRINTERS only where every type of the
  database prints harmlessly); user functions only when
  they are LANGUAGE sql and their body and argument defaults pass the same test. Where the
  overload a call will reach is unclear, every overload it may reach must pass: all of them
  when an argument is a literal, NULL or an expression, else those whose argument types the
  statement's values can take (directly, as a domain's base or through an implicit cast);
* relations: tables (partitions and children included), views whose definitions pass (a
  materialized view's query runs only on REFRESH), and the functions behind their
  row-level-security policies, read from the stored expression trees; the code the
  planner folds from the catalog (index expressions and predicates, CHECK constraints,
  partition keys, statistics expressions) and the operator classes of indexes on the columns
  the statement reads. Never foreign tables (reading one may run a program);
* operators (a literal operand takes any type), casts from a type whose values may arise,
  text search (TEXT_SEARCH, where the database's dictionaries are harmless), and the types in
  play (their I/O and comparison functions, domain checks):
  the types of the columns the statement names, and of every column of a relation it may read
  whole (`*`, NATURAL, TABLE, a whole-row reference such as `to_json(t)` or `t.f`). So a table
  with one column of an extension type (citext, vector, geometry) is read harmlessly by a
  statement that never touches that column.

The proof reads the catalog only, so it cannot itself run anything. It is conservative: a
statement it cannot follow (a parse it does not understand, `OPERATOR(...)`) is unproven, and
unproven SQL is shown with a warning and runs only after a typed `yes`, like a write.

Names are found in the token stream as PostgreSQL reads it with standard_conforming_strings
on (sqlglot's reading); model SQL always runs under that setting (db/execute.py), so the server
and this proof read the same strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import pq
from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from nl2sql_shell.db.as_sent import unsent
from nl2sql_shell.db.execute import SearchPath, catalog_reads
from nl2sql_shell.nl2sql.parsing import PARSE_ERRORS, UnlikePostgres, parse_one, tokenize
from nl2sql_shell.nl2sql.safety import classify, explained_statement

# Built-ins that are immutable or stable and still must not run unasked, each with why.
DENIED = frozenset(
    {
        "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",  # run SQL given as text
        "cursor_to_xml", "cursor_to_xmlschema",  # move an open cursor
        "table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema",  # read a relation by name, unchecked
        "schema_to_xml", "schema_to_xmlschema", "schema_to_xml_and_xmlschema",  # read every table of a schema, unchecked
        "database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",  # read every table, unchecked
        "ts_stat", "ts_rewrite",  # the (tsquery, text) forms run SQL given as text
        "txid_current", "pg_current_xact_id",  # assign a transaction id
        "fmgr_c_validator", "fmgr_internal_validator", "fmgr_sql_validator",  # load or parse function bodies
        "pg_indexam_has_property", "pg_index_has_property", "pg_index_column_has_property",  # run an index method's handler
        # build the partition key of any relation given, folding its expressions, and hash with its classes
        "satisfies_hash_partition", "pg_get_partition_constraintdef",
    }
)
# Built-ins that run the input function of a type given as a value when called by name (as a
# type's own input function they serve only their type, which is judged as a type).
TYPE_DISPATCH = frozenset(
    {"array_in", "record_in", "range_in", "multirange_in", "domain_in", "pg_input_is_valid", "pg_input_error_info"}
)
# Built-ins that print stored expressions or statistics: each value through its own type's
# output function, so they are harmless only where every type of the database has harmless
# functions (`_Prover.stored_values`); most open the relation the object belongs to, so its
# access method's handler runs too (`_Prover.handlers`).
PRINTERS = frozenset(
    {
        "pg_get_expr", "pg_get_viewdef", "pg_get_indexdef", "pg_get_constraintdef", "pg_get_triggerdef",
        "pg_get_ruledef", "pg_get_partkeydef", "pg_get_statisticsobjdef",
        "pg_get_statisticsobjdef_columns", "pg_get_statisticsobjdef_expressions", "pg_get_function_arguments",
        "pg_get_function_arg_default", "pg_get_functiondef", "pg_get_function_sqlbody", "pg_mcv_list_items",
    }
)
# Built-ins that read a type's name given as text, whose modifier runs the type's typmod_in
# (`to_regtype('t(3)')`, `'t(3)'::regtype`, a function's signature), or print one with its
# modifier through typmod_out (`format_type(atttypid, atttypmod)`): harmless where every type
# of the database is (`_Prover.stored_values`). Those whose names end in "in" are the input
# functions of regtype, regprocedure and regoperator, reached by casting text to them.
TYPE_NAMES = frozenset(
    {
        "format_type", "to_regtype", "to_regtypemod", "to_regprocedure", "to_regoperator", "regtypein",
        "regprocedurein", "regoperatorin", "has_function_privilege", "has_type_privilege", "pg_get_object_address",
    }
)
# Built-ins that run the database's text search dictionaries, templates and parsers, which
# an extension (unaccent, dict_int) may provide: harmless where those are (`_Prover.text_search`).
TEXT_SEARCH = frozenset(
    {
        "to_tsvector", "to_tsquery", "plainto_tsquery", "phraseto_tsquery", "websearch_to_tsquery", "ts_lexize",
        "ts_debug", "ts_headline", "ts_parse", "ts_token_type", "json_to_tsvector", "jsonb_to_tsvector",
        "ts_match_tt", "ts_match_tq",  # text @@ text, text @@ tsquery
    }
)
# Built-ins that convert between encodings through the database's default conversions, which
# CREATE DEFAULT CONVERSION may add: harmless where none is user-made.
CONVERSIONS = frozenset({"convert", "convert_from", "convert_to"})
# Built-ins that open a relation they are given (by OID or name: `pg_indexes`, the
# information_schema's views) and so run its access method's handler, or its foreign-data
# wrapper's, which an extension (postgres_fdw, bloom) or a superuser provides: proven only where
# every such handler is harmless (`handlers`).
HANDLER_CALLERS = frozenset(
    {
        "pg_relation_is_updatable", "pg_column_is_updatable", "pg_get_indexdef", "pg_indexam_progress_phasename",
        "pg_relation_size", "pg_table_size", "pg_total_relation_size", "pg_indexes_size",
        "pg_get_replica_identity_index", "pg_get_publication_tables",  # the latter opens each published table in PostgreSQL 18
        "pg_get_object_address",  # opens a relation it is given by name
    }
)
# ts_rewrite(tsquery, tsquery, tsquery) rewrites a query value and runs nothing: the deny above is
# by name, so this exact form is let back in.
_DENIED_EXCEPT = frozenset({"ts_rewrite(tsquery, tsquery, tsquery)"})

# Volatile built-ins that change nothing outside the statement, each with why.
ALLOWED_VOLATILE = frozenset(
    {
        "random", "random_normal", "array_sample", "array_shuffle",  # a new number each call, nothing kept
        "clock_timestamp", "timeofday",  # read the clock
        "gen_random_uuid", "uuidv4", "uuidv7",  # new identifiers, nothing kept
        "bernoulli", "system",  # TABLESAMPLE methods: choose rows to read
        "pg_database_size", "pg_relation_size", "pg_table_size", "pg_total_relation_size",
        "pg_indexes_size", "pg_tablespace_size",  # read file sizes
        "pg_is_in_recovery", "pg_lock_status", "pg_blocking_pids",  # read server state (pg_locks)
        # not pg_sequence_last_value (pg_sequences): it holds RowExclusiveLock on the sequence to
        # the transaction's end, as currval does, and an ALTER SEQUENCE waits behind it
    }
)

# Operators a statement uses without writing them: IN and CASE use =, BETWEEN and ORDER BY
# compare, LIKE and SIMILAR TO match.
_IMPLICIT_OPERATORS = frozenset({"=", "<>", "<", ">", "<=", ">=", "~~", "~~*", "!~~", "!~~*", "~", "~*", "!~", "!~*"})
_OPERATOR_CHARS = set("+-*/<>=~!@#%^&|`?")
# PostgreSQL's lexer: every character outside ASCII may start or continue a name.
_IDENTIFIER = re.compile(r"[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*")
# It folds unquoted names by lowering ASCII letters only (in a multi-byte encoding such as UTF8).
_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SQL_LANGUAGE = 14  # pg_language's OID for sql, fixed at initdb (a superuser may rename languages)
_BARE = re.compile(r'"(?:[^"]|"")*"')  # one quoted name, no schema before it
_ANYARRAY = 2277  # pg_statistic's and pg_stats' values: arrays of any column's type
_FIRST_USER_OID = 16384  # initdb's objects are numbered below it

# The stored expression trees (pg_node_tree) of the objects a statement may run, by catalog,
# and what in their text names a function, an operator or a relation.
_STORED_TREES = {
    "pg_rewrite": "SELECT ev_action::text, ev_qual::text FROM pg_rewrite WHERE oid = %s",
    "pg_policy": "SELECT polqual::text, polwithcheck::text FROM pg_policy WHERE oid = %s",
    "pg_proc": "SELECT prosqlbody::text, proargdefaults::text FROM pg_proc WHERE oid = %s",
    "pg_constraint": "SELECT conbin::text FROM pg_constraint WHERE oid = %s",
    "pg_attrdef": "SELECT adbin::text FROM pg_attrdef WHERE oid = %s",
    "pg_statistic_ext": "SELECT stxexprs::text FROM pg_statistic_ext WHERE oid = %s",
    "pg_class": """SELECT i.indexprs::text, i.indpred::text, p.partexprs::text FROM pg_class c
                   LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_partitioned_table p ON p.partrelid = c.oid WHERE c.oid = %s""",
}
_TREE_FUNCTIONS = re.compile(r":(?:funcid|aggfnoid|winfnoid|opfuncid|hashfuncid|negfuncid|tsmhandler|startInRangeFunc|endInRangeFunc) (\d+)")
# a stored query that is no SELECT (BEGIN ATOMIC's INSERT, UPDATE, DELETE, MERGE: CmdType's
# CMD_SELECT is 1) or holds a data-changing WITH
_TREE_WRITES = re.compile(r":commandType (?!1\b)\d+|:hasModifyingCTE true")
_TREE_OPERATORS = re.compile(r":(?:opno|sortop|eqop) (\d+)")
_TREE_OPERATOR_LISTS = re.compile(r":opnos \(o ([\d ]+)\)")
_TREE_RELATIONS = re.compile(r":relid (\d+)")
# The types of the values a tree computes: a built-in one is compared and hashed through its
# default class (GREATEST, array equality, DISTINCT), which pg_depend does not record either;
# a SQL/JSON function's RETURNING type (`:typid`) gets its value through that type's input
# function, so a domain's CHECK runs with no CoerceToDomain node and no pg_depend row.
_TREE_TYPES = re.compile(
    r":(?:consttype|funcresulttype|resulttype|minmaxtype|opresulttype|array_typeid|element_typeid|aggtype|wintype"
    r"|refcontainertype|refelemtype|refrestype|vartype|paramtype|typid|typeId|type|casetype|coalescetype"
    r"|row_typeid|msftype|firstColType|aggtranstype) (\d+)"
)
_TREE_TYPE_LISTS = re.compile(r":(?:funccoltypes|coltypes|colTypes|aggargtypes) \(o ([\d ]+)\)")
_MAX_DEPTH = 8  # SQL functions and views inside each other; deeper is unproven

# The last transaction initdb ran: every catalog row it made (OID below 16384) carries an xmin up
# to it, in every database (each is a copy of template1), and keeps it until the row is changed.
# A superuser may change a built-in's row and keep its OID (ALTER FUNCTION ... SUPPORT, RENAME
# with STABLE, CREATE OR REPLACE in pg_catalog, ALTER TYPE ... SET (TYPMOD_IN), an UPDATE of the
# catalog itself); any such change gives the row a later xmin, so it is user-made from then on. A
# GRANT on a built-in does too: that built-in is then judged as user code, which only asks more.
_INITDB_XID = "(SELECT coalesce(min(xmin::text::bigint), 0) FROM pg_catalog.pg_database WHERE datname IN ('template0', 'template1'))"


def _user_made(alias: str) -> str:
    """SQL: whether the catalog row ``alias`` was made or changed after initdb."""
    return f"({alias}.oid >= 16384 OR {alias}.xmin::text::bigint > {_INITDB_XID})"


# Whether a function is a harmless built-in, in SQL, for whole catalog scans (operators, casts).
# %(altered)s: the built-ins whose row (or aggregate row) changed since (`_Prover.params`).
_BUILTIN_HARMLESS = """
    p.oid < 16384 AND p.oid <> ALL(%(altered)s::oid[]) AND p.pronamespace = 'pg_catalog'::regnamespace
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    AND ((p.provolatile IN ('i', 's') AND (p.proname <> ALL(%(denied)s) OR format('%%s(%%s)', p.proname, pg_get_function_identity_arguments(p.oid)) = ANY(%(except)s)))
         OR p.proname = ANY(%(allowed)s))
    AND p.proname <> ALL(%(conditional)s)
"""
_PARAMS = {
    "denied": sorted(DENIED),
    "except": sorted(_DENIED_EXCEPT),
    "allowed": sorted(ALLOWED_VOLATILE),
    "conditional": sorted(PRINTERS | TYPE_NAMES | TEXT_SEARCH | CONVERSIONS | HANDLER_CALLERS | TYPE_DISPATCH),
}


@dataclass(frozen=True)
class Proof:
    """`proven` when every call, relation, operator and type the SQL may reach is harmless;
    otherwise `reasons` say what could not be proven, one line each."""

    proven: bool
    reasons: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()  # proven: the relations its FROM reads, and the bodies of the SQL functions it calls, as the server resolved them (schema.name)


@dataclass
class _Call:
    schema: str | None
    name: str
    args: int | None  # None: the count is unclear (named or variadic arguments, FROM/ORDER BY inside)
    names_only: bool  # every argument is a (qualified) name: its type is one the statement handles


@dataclass
class _Facts:
    """What the tokens say the statement may reach."""

    calls: list[_Call] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # quoted identifiers and schema.name pairs: relations, types
    words: set[str] = field(default_factory=set)  # every identifier as folded: functions called by field notation
    # identifiers after a `.`, with the name before it (None after `)`): `t.f` and `(x).f` may call f(t)
    members: set[tuple[str | None, str]] = field(default_factory=set)
    grammar_types: set[str] = field(default_factory=set)  # built-in types the syntax makes (_GRAMMAR_TYPES)
    operators: set[str] = field(default_factory=set)  # runs of operator characters as written
    # for each run, whether a literal, NULL or parenthesis stands on its left and its right:
    # an operand whose type only the operator's resolution decides
    loose_sides: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    from_items: list[_FromItem] = field(default_factory=list)
    uses: list[_Use] = field(default_factory=list)  # every other identifier as written
    all_columns: bool = False  # `*`, NATURAL or TABLE: columns the text never names are read
    untyped: bool = False  # a literal or NULL anywhere: BETWEEN, IN, CASE, NULLIF, LIKE compare one unwritten


@dataclass(frozen=True)
class _FromItem:
    """A relation read by FROM, JOIN or ONLY, as written, with its alias."""

    schema: str | None
    name: str
    alias: str | None
    renames_columns: bool  # `AS a(x, y)`: its columns are read under other names


@dataclass(frozen=True)
class _Use:
    """An identifier outside the FROM items: a column, a qualifier, or a whole row."""

    name: str
    qualifier: str | None  # the word before its `.`
    member: str | None  # the word (or `*`) after its `.`


def prove(conn: psycopg.Connection, sql: str, timeout_ms: int = 5_000) -> Proof:
    """Prove ``sql`` harmless on ``conn``'s server, or say why not (catalog reads only)."""
    if problem := unsent(conn, sql):  # the server would read other text than this proof reads
        return Proof(False, (problem,))
    safety = classify(sql)
    if safety.writes:
        return Proof(False, tuple(safety.reasons))
    facts, problem = _read_tokens(sql)
    if problem:
        return Proof(False, (problem,))
    if conn.info.parameter_status("server_encoding") != "UTF8" and not all(word.isascii() for word in facts.words):
        return Proof(False, ("a name outside ASCII is folded by this server's encoding, which this check does not follow",))
    if conn.info.transaction_status == pq.TransactionStatus.INERROR:
        return Proof(False, ("the current transaction has failed: nothing can be checked on the server",))
    if conn.info.transaction_status == pq.TransactionStatus.INTRANS and (isolation := _isolation(conn)) != "read committed":
        return Proof(False, (f"inside this {isolation.upper()} transaction the catalog reads see its snapshot, which may be older than the objects the statement would run",))
    in_block = conn.info.transaction_status == pq.TransactionStatus.INTRANS
    try:
        with catalog_reads(conn, timeout_ms) as path:
            if in_block and (problem := _changed_path(conn, path)):
                return Proof(False, (problem,))
            prover = _Prover(conn, path.effective)
            reasons = prover.statement(facts)
            reads = () if reasons else tuple(sorted({*prover.read_names(facts, _query_names(sql)), *prover.body_reads}))
    except psycopg.Error as exc:
        return Proof(False, (f"the catalog could not be read: {str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__}",))
    return Proof(not reasons, tuple(dict.fromkeys(reasons)), reads)


def _query_names(sql: str) -> set[str]:
    """The names the statement's WITH clauses define, in lower case (none when sqlglot cannot
    read it: then every FROM name counts as a relation, which only lists more)."""
    try:
        tree = parse_one(sql)
    except PARSE_ERRORS:
        return set()
    return {cte.alias.lower() for cte in tree.find_all(exp.CTE) if cte.alias}


# Whether the current user may use a schema (pg_namespace n), read from its row: a superuser,
# its owner's roles under the default privileges, or a role the ACL grants USAGE to.
_USABLE_SCHEMA = """(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
    OR (n.nspacl IS NULL AND pg_has_role(current_user, n.nspowner, 'USAGE'))
    OR EXISTS (SELECT FROM aclexplode(n.nspacl) AS a WHERE a.privilege_type = 'USAGE' AND (a.grantee = 0 OR pg_has_role(current_user, a.grantee, 'USAGE')))"""


def _changed_path(conn: psycopg.Connection, path: SearchPath) -> str | None:
    """Inside the person's open transaction, the search path the server reports comes from the
    backend's cache, brought up to date only when a lock is taken: a schema another session has
    since created, renamed or granted earlier on the path is missing from it, while the
    statement's own parse, locking, sees it (and its table, function or domain of the same
    name). Why the path the catalog gives differs from the reported one; None when it agrees."""
    names = _path_names(path.setting)
    if names is None:
        return f"the search_path setting {path.setting!r} cannot be read as this check reads it"
    names = [name for name in names if name != "pg_temp"]
    rows = conn.execute(
        f"""SELECT u.name, EXISTS (SELECT FROM pg_namespace n WHERE n.nspname = u.name AND ({_USABLE_SCHEMA}))
            FROM unnest(%s::text[]) AS w(name), LATERAL (SELECT CASE WHEN w.name = '$user' THEN current_user::text ELSE w.name END) AS u(name)""",
        (names,),
    ).fetchall()
    for name, usable in rows:
        if usable != (name in path.listed):
            return f"schema {name} on the search_path has changed since this transaction began (another session created, renamed or granted it)"
    return None


def _path_names(setting: str) -> list[str] | None:
    """The schema names of a search_path setting as PostgreSQL splits it (SplitIdentifierString):
    by commas, blanks around them, "quoted" as written, otherwise with ASCII letters in lower
    case, each cut to 63 bytes; None where it cannot be read so."""
    names, pos, blanks = [], 0, " \t\n\r\f"
    while True:
        while pos < len(setting) and setting[pos] in blanks:
            pos += 1
        if pos < len(setting) and setting[pos] == '"':
            quoted = re.match(r'"((?:[^"]|"")*)"', setting[pos:])
            if quoted is None:
                return None
            name, pos = quoted.group(1).replace('""', '"'), pos + quoted.end()
        else:
            bare = re.match(r"[^,\s]*", setting[pos:]).group()  # \s is wider than PostgreSQL's blanks: compared below
            if any(char.isspace() and char not in blanks for char in bare) or (not bare and names):
                return None
            name, pos = "".join(char.lower() if "A" <= char <= "Z" else char for char in bare), pos + len(bare)
        while len(name.encode()) > 63:
            name = name[:-1]
        if name:
            names.append(name)
        while pos < len(setting) and setting[pos] in blanks:
            pos += 1
        if pos == len(setting):
            return names
        if setting[pos] != ",":
            return None
        pos += 1


def _isolation(conn: psycopg.Connection) -> str:
    """The open transaction's isolation level: each statement of a READ COMMITTED one sees
    the catalog as committed when it starts, as the statement's own planning will; a
    REPEATABLE READ or SERIALIZABLE one reads from its first snapshot."""
    return conn.execute("SELECT pg_catalog.current_setting('transaction_isolation')", prepare=False).fetchone()[0]


def plain_reads(conn: psycopg.Connection, path: Sequence[str], oids: Iterable[int]) -> set[int]:
    """Of these tables, those a read of runs nothing but harmless code, judged as the proof
    judges a table a statement reads (every column read): the shell's own samples of a table
    are planned, and planning folds the constant calls of its indexes, constraints and
    statistics. Inside `catalog_reads`, whose path (the user's) is ``path``."""
    prover = _Prover(conn, tuple(path))
    return {oid for oid in oids if prover.relation(oid)}


def _read_tokens(sql: str) -> tuple[_Facts, str | None]:
    try:
        tokens = tokenize(sql)
        if len(tokens) == 2 and tokens[0].token_type == TokenType.COMMAND:  # EXPLAIN: the rest is one string
            explained = explained_statement(tokens[1].text)
            if explained is None or classify(explained[1]).writes:  # planning a write folds its target's defaults and rules
                return _Facts(), "EXPLAIN of a statement that is not a query"
            tokens = tokens[:1] + tokenize(tokens[1].text)
    except UnlikePostgres as exc:
        return _Facts(), str(exc)
    except TokenError:
        return _Facts(), "the statement could not be read"
    if any(t.token_type == TokenType.SEMICOLON for t in tokens[:-1]):
        return _Facts(), "more than one statement"
    facts = _Facts()
    for i, token in enumerate(tokens):
        if token.token_type.name.endswith("STRING") or token.token_type == TokenType.NUMBER:
            continue
        for implied in (call for word in token.text.lower().split() for call in _SYNTAX_CALLS.get(word, ())):  # `SIMILAR TO` is one token
            facts.calls.append(_Call("pg_catalog", implied, None, False))
        if (grammar_type := _GRAMMAR_TYPES.get(token.text.lower())) is not None:
            facts.grammar_types.add(grammar_type)
        if token.text.upper() == "OPERATOR" and i + 1 < len(tokens) and tokens[i + 1].token_type == TokenType.L_PAREN:
            return _Facts(), "OPERATOR(...) names an operator this check does not follow"
        if token.text.upper() == "TREAT" and i + 1 < len(tokens) and tokens[i + 1].token_type == TokenType.L_PAREN:
            return _Facts(), "TREAT(... AS type) calls a function named after the type, which this check does not follow"
        if _is_operator(token):
            continue
        name = _name(token)
        if name is None:
            # a keyword of several words (`SORT BY`, `DOUBLE PRECISION`) that PostgreSQL may
            # read as names: `t.sort by` calls sort(t), `FROM double precision` reads "double"
            words = [w for w in map(_word, token.text.split()) if w is not None] if " " in token.text else []
            facts.names.update(map(_quote, words))
            facts.words.update(words)
            if words and i > 0 and tokens[i - 1].token_type == TokenType.DOT:
                facts.members.add((_qualifier(tokens, i), words[0]))
            continue
        schema = _qualifier(tokens, i)
        facts.names.add(f"{_quote(schema)}.{_quote(name)}" if schema else _quote(name))
        facts.words.add(name)
        if i > 0 and tokens[i - 1].token_type == TokenType.DOT:
            facts.members.add((schema, name))
        if i + 1 < len(tokens) and tokens[i + 1].token_type == TokenType.L_PAREN:
            # unnest(a, b) in FROM is run as unnest(a) and unnest(b)
            args = None if name == "unnest" else _argument_count(tokens, i + 1)
            facts.calls.append(_Call(schema, name, args, _names_only(tokens, i + 1)))
    facts.operators, facts.loose_sides = _operator_runs(tokens)
    facts.untyped = any(t.token_type.name.endswith("STRING") or t.token_type == TokenType.NULL for t in tokens)
    facts.from_items, facts.uses, facts.all_columns = _references(tokens)
    return facts, None


# Syntax that PostgreSQL turns into calls of pg_catalog functions under other names: TRIM is
# btrim, AT TIME ZONE is timezone, and so on. Every overload of those may be reached (a
# superuser may add one in pg_catalog that takes a domain).
_SYNTAX_CALLS = {
    "trim": ("btrim", "ltrim", "rtrim"),
    "escape": ("like_escape", "similar_to_escape", "similar_escape"),
    "at": ("timezone",),
    "overlaps": ("overlaps",),
    "similar": ("similar_to_escape", "similar_escape"),
    "normalized": ("is_normalized",),
    "collation": ("pg_collation_for",),
    "extract": ("date_part", "extract"),
    "substring": ("substring", "substr", "similar_to_escape"),
    "position": ("position", "strpos"),
    "overlay": ("overlay",),
}
# Grammar that makes values of a built-in type without calling a function by that name:
# SQL/JSON constructors make json, the XML ones xml. Both types may have a user's default
# operator class (neither has a built-in btree one), which sorting or comparing them runs.
_GRAMMAR_TYPES = {
    **dict.fromkeys(("json_array", "json_object", "json_arrayagg", "json_objectagg", "json_scalar", "json"), "pg_catalog.json"),
    **dict.fromkeys(("xmlelement", "xmlforest", "xmlconcat", "xmlparse", "xmlpi", "xmlroot", "xmlagg", "xmlcomment"), "pg_catalog.xml"),
}


# Parentheses that open a query: a FROM inside them may start a FROM clause. Inside any other
# (EXTRACT(x FROM t), SUBSTRING, TRIM, OVERLAY) FROM takes a value.
_QUERY_STARTS = frozenset({"select", "with", "values", "table"})
# Words that may follow a FROM item and are not its alias: reserved in every PostgreSQL, so
# never an unquoted alias. Any other word there is taken for an alias (at worst too many
# words then read a whole row).
_AFTER_FROM_ITEM = frozenset(
    """where join on using left right full inner cross natural outer group order having limit
    offset fetch union intersect except window for tablesample returning into with""".split()
)
# PostgreSQL cuts every name to NAMEDATALEN - 1 bytes.
_NAME_BYTES = 63


def _references(tokens: list[Token]) -> tuple[list[_FromItem], list[_Use], bool]:
    """The relations FROM reads and how every other identifier is written, so that the columns
    a statement reads are known: those it names, unless a `*`, NATURAL, TABLE or a whole-row
    reference reads them all. Anything not recognised as a FROM item or its alias is a use,
    which can only widen what is read."""
    all_columns = any(
        (t.token_type == TokenType.STAR and not _between_parentheses(tokens, i)) or t.text.upper() in ("NATURAL", "TABLE")
        for i, t in enumerate(tokens)
    )
    items: list[_FromItem] = []
    uses: list[_Use] = []
    claimed: set[int] = set()
    clauses = _from_clause_starts(tokens)
    for i, token in enumerate(tokens):
        name = _name(token)
        if name is None or i in claimed or _is_operator(token) or (i - 1 in clauses and _keyword(token) in _BEFORE_FROM_ITEM):
            continue
        start = i
        while start >= 2 and tokens[start - 1].token_type == TokenType.DOT and _name(tokens[start - 2]) is not None:
            start -= 2
        after = i + 1
        if (start - 1 in clauses or (start - 2 in clauses and _keyword(tokens[start - 1]) in _BEFORE_FROM_ITEM)) and not _dotted(tokens, after):
            claimed.update(range(start, after))
            alias_at = after + 1 if after < len(tokens) and tokens[after].token_type == TokenType.ALIAS else after
            alias = _name(tokens[alias_at]) if alias_at < len(tokens) else None
            if alias is not None and _keyword(tokens[alias_at]) in _AFTER_FROM_ITEM:
                alias = None
            renames = alias is not None and alias_at + 1 < len(tokens) and tokens[alias_at + 1].token_type == TokenType.L_PAREN
            if alias is not None:
                claimed.add(alias_at)
            items.append(_FromItem(_qualifier(tokens, i), name, alias, renames))
            continue
        member = None
        if _dotted(tokens, after):
            member = "*" if tokens[after + 1].token_type == TokenType.STAR else _name(tokens[after + 1])
        uses.append(_Use(name, _qualifier(tokens, i), member or ("?" if _dotted(tokens, after) else None)))
    return items, uses, all_columns


def _from_clause_starts(tokens: list[Token]) -> set[int]:
    """The positions of FROM, JOIN, a comma between FROM items and a TABLE query, where what
    follows is a relation the query reads: not IS DISTINCT FROM, nor FROM inside a call's
    parentheses, nor a JOIN in parentheses (the join's alias reads whole rows of its
    relations)."""
    starts: set[int] = set()
    queries: list[bool] = []  # for each open parenthesis, whether a query starts inside it
    lists: list[int] = []  # the depths at which a FROM list is open (its commas start items)
    for i, token in enumerate(tokens):
        word = _keyword(token)
        if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET):  # (an ARRAY[...]'s commas are no FROM list's)
            queries.append(token.token_type == TokenType.L_PAREN and i + 1 < len(tokens) and _keyword(tokens[i + 1]) in _QUERY_STARTS)
        elif token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET):
            queries = queries[:-1]
            lists = [depth for depth in lists if depth <= len(queries)]
        elif word in ("from", "join") and (not queries or queries[-1]) and not (i and _keyword(tokens[i - 1]) == "distinct"):
            starts.add(i)
            if word == "from":
                lists = [*[depth for depth in lists if depth < len(queries)], len(queries)]
        elif lists and lists[-1] == len(queries) and (token.token_type == TokenType.COMMA or word in _FROM_LIST_ENDS):
            if token.token_type == TokenType.COMMA:
                starts.add(i)
            else:
                lists.pop()
        elif word == "table" and (i == 0 or tokens[i - 1].token_type == TokenType.L_PAREN or _keyword(tokens[i - 1]) in _SET_OPERATIONS):
            starts.add(i)  # `TABLE t`: SELECT * FROM t
    return starts


# What ends a FROM list at its depth, and what may stand before a TABLE query
_FROM_LIST_ENDS = frozenset("where group having window order limit offset fetch for union intersect except returning".split())
_SET_OPERATIONS = frozenset({"union", "intersect", "except", "all", "distinct"})
# Reserved words that may stand between FROM (or a comma, or JOIN) and the relation
_BEFORE_FROM_ITEM = frozenset({"only", "lateral"})


def _keyword(token: Token) -> str:
    """The word a token spells, lower case, if it can be a keyword: a quoted name never is."""
    return "" if token.token_type == TokenType.IDENTIFIER else token.text.lower()


def _from_item_name(item: _FromItem) -> str:
    return f"{_quote(item.schema)}.{_quote(item.name)}" if item.schema else _quote(item.name)


def _dotted(tokens: list[Token], i: int) -> bool:
    """Whether a `.` and something after it follow at i."""
    return i + 1 < len(tokens) and tokens[i].token_type == TokenType.DOT


def _between_parentheses(tokens: list[Token], i: int) -> bool:
    """`count(*)`: a `*` that stands for no column."""
    return 0 < i < len(tokens) - 1 and tokens[i - 1].token_type == TokenType.L_PAREN and tokens[i + 1].token_type == TokenType.R_PAREN


def _name(token: Token) -> str | None:
    """The identifier a token spells as PostgreSQL folds and cuts it; None for punctuation and
    literals."""
    if token.token_type == TokenType.IDENTIFIER:
        return _cut(token.text)
    return _word(token.text)


def _word(text: str) -> str | None:
    """An unquoted word as PostgreSQL folds and cuts it, if it can be a name."""
    return _cut(text.translate(_FOLD)) if _IDENTIFIER.fullmatch(text) else None


def _cut(name: str) -> str:
    """The first 63 bytes of a name, as PostgreSQL keeps them (whole characters only)."""
    return name.encode()[:_NAME_BYTES].decode(errors="ignore") if len(name) > _NAME_BYTES // 4 else name


def _qualifier(tokens: list[Token], i: int) -> str | None:
    if i >= 2 and tokens[i - 1].token_type == TokenType.DOT:
        return _name(tokens[i - 2])
    return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_operator(token: Token) -> bool:
    return bool(token.text) and set(token.text) <= _OPERATOR_CHARS and token.token_type != TokenType.IDENTIFIER


def _operator_runs(tokens: list[Token]) -> tuple[set[str], dict[str, tuple[bool, bool]]]:
    """Adjacent operator characters as the server lexes them (one name, `@@@` or `->>`), and
    for each whether a side is loose (see `_Facts.loose_sides`)."""
    runs: list[tuple[str, int, int]] = []  # (name, first token, last token)
    previous: Token | None = None
    for i, token in enumerate(tokens):
        if not _is_operator(token) or token.token_type.name.endswith("STRING"):
            previous = None
            continue
        if previous is not None and token.start == previous.end + 1:
            runs[-1] = (runs[-1][0] + token.text, runs[-1][1], i)
        else:
            runs.append((token.text, i, i))
        previous = token
    sides: dict[str, tuple[bool, bool]] = {}
    # a value cast to `unknown` (`NULL::unknown`, `pg_catalog.unknown 'a'`) takes whatever type
    # an operator wants, as a literal does, wherever it stands
    untyped = any(_name(token) == "unknown" for token in tokens)
    for name, first, last in runs:
        left = untyped or (first > 0 and _loose(tokens[first - 1], TokenType.R_PAREN))
        right = untyped or (last + 1 < len(tokens) and _loose(tokens[last + 1], TokenType.L_PAREN))
        was = sides.get(name, (False, False))
        sides[name] = (was[0] or left, was[1] or right)
    return {name for name, _, _ in runs}, sides


def _loose(token: Token, parenthesis: TokenType) -> bool:
    """A literal or NULL (of no type yet), or a parenthesised expression, as an operand."""
    return token.token_type.name.endswith("STRING") or token.token_type in (TokenType.NULL, parenthesis)


def _argument_count(tokens: list[Token], open_at: int) -> int | None:
    """Arguments of the call whose `(` is at ``open_at``, or None when the count is unclear."""
    depth, count, empty = 0, 1, True
    for at, token in enumerate(tokens[open_at:], open_at):
        kind = token.token_type
        if kind in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
            continue
        if kind in (TokenType.R_PAREN, TokenType.R_BRACKET):
            depth -= 1
            if depth == 0:
                # an ordered-set aggregate's `f(x) WITHIN GROUP (ORDER BY y)` takes x and y
                within = at + 1 < len(tokens) and tokens[at + 1].text.upper() == "WITHIN"
                return None if within else 0 if empty else count
            continue
        empty = False
        if depth == 1:
            if kind == TokenType.COMMA:
                count += 1
            elif kind == TokenType.STAR:  # agg(*) takes no argument; t.* may be several
                return None
            elif token.text.upper() in {"FROM", "ORDER", "VARIADIC", "IN", "FOR", "PLACING", "AS", "WITHIN", "SIMILAR"} or token.text in {"=>", ":="}:
                return None
    return None


def _names_only(tokens: list[Token], open_at: int) -> bool:
    """Whether each argument of the call whose `(` is at ``open_at`` is a name (`t.col`): a
    literal, NULL, ROW(...) or any expression may take a type no column in play has."""
    expected_name = True
    for token in tokens[open_at + 1 :]:
        if token.token_type == TokenType.R_PAREN:
            return not expected_name or token is tokens[open_at + 1]
        if expected_name and token.token_type in (TokenType.VAR, TokenType.IDENTIFIER):
            expected_name = False
        elif not expected_name and token.token_type in (TokenType.DOT, TokenType.COMMA):
            expected_name = True
        else:
            return False
    return False


# The handlers the server calls when it opens a relation (for a scan, or to read or print a
# value of its row type), where they are not built-in: its access method's, its TOAST table's
# and its TOAST index's (a superuser may point any of them at any function).
_OPENED_HANDLERS = f"""
    SELECT c.oid, r.oid = c.oid, r.relkind IN ('i', 'I'), r.oid::regclass::text, am.amhandler::oid FROM pg_class c
    JOIN pg_class r ON r.oid IN (c.oid, c.reltoastrelid) OR r.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = c.reltoastrelid)
    JOIN pg_am am ON am.oid = r.relam
    WHERE {_user_made("am")} AND """

# Of an operator family's support functions (pg_amproc ap of access method am), the one that
# opening an index of the family's class calls, whatever the query (the relcache reads the
# class's options): its number per built-in method; for another method, which the catalog does
# not say, every support function.
_OPENING_SUPPORT = """ap.amprocnum = CASE am.amname WHEN 'btree' THEN 5 WHEN 'hash' THEN 3 WHEN 'gist' THEN 10
                      WHEN 'gin' THEN 7 WHEN 'spgist' THEN 6 WHEN 'brin' THEN 5 ELSE ap.amprocnum END"""

# The partitioned tables a relation is a partition of, at any depth: planning a read of a
# partition builds its ancestors' partition keys (folding their expressions) for its
# partition constraint, and checks that constraint under constraint_exclusion.
_ANCESTOR_KEYS = """
    WITH RECURSIVE up(oid) AS (SELECT inhparent FROM pg_inherits WHERE inhrelid = %s
                               UNION SELECT i.inhparent FROM pg_inherits i JOIN up ON i.inhrelid = up.oid)
    SELECT p.partrelid, p.partrelid::regclass::text FROM pg_partitioned_table p JOIN up ON up.oid = p.partrelid"""


# The relations a BEGIN ATOMIC body names, as pg_depend records them (schema.name)
_ATOMIC_READS = """SELECT DISTINCT format('%%I.%%I', n.nspname, c.relname) FROM pg_depend d
    JOIN pg_class c ON c.oid = d.refobjid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE d.classid = 'pg_proc'::regclass AND d.objid = %s AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'n'"""


class _Prover:
    """One proof: the catalog reads, memoized, and the reasons for what failed."""

    def __init__(self, conn: psycopg.Connection, path: tuple[str, ...], depth: int = 0) -> None:
        self.conn = conn
        self.path = path  # the user's search_path (current_schemas(true)): the proof reads with it pinned
        self.reasons: list[str] = []
        self.functions: dict[int, bool] = {}
        self.relations: dict[tuple[int, frozenset[str] | None], bool] = {}
        self.types: dict[int, bool] = {}
        self.in_play: set[int] = set()  # types whose values the statement may handle
        self.named_rows: set[int] = set()  # row types of the relations named: a call may take them whole
        self.printing: bool | None = None  # stored_values(), once known
        self.searching: bool | None = None  # text_search(), once known
        self.handling: bool | None = None  # handlers(), once known
        self.dispatching: frozenset[int] | None = None  # dispatchers(), once read
        self.operator_checks: dict[int, bool] = {}
        self.altered: dict[str, set[int]] | None = None  # changed_built_ins(), once known
        self.depth = depth
        self.body_reads: set[str] = set()  # what the FROM of the SQL function bodies proven reads (schema.name)

    def rows(self, query: str, params: object = None) -> list[tuple]:
        return self.conn.execute(query, params, prepare=False).fetchall()

    def changed_built_ins(self, kind: str) -> set[int]:
        """The built-in functions ("f": their pg_proc or pg_aggregate row) or types ("t": their
        pg_type or pg_range row) changed since initdb, usually none: read once per proof (and
        the SQL bodies it proves), rather than compared row by row in every catalog scan. A
        changed type's functions are judged as a user type's are."""
        if self.altered is None:
            newer = f"xmin::text::bigint > {_INITDB_XID}"
            query = f"""SELECT 'f', oid FROM pg_proc WHERE oid < 16384 AND {newer}
                        UNION SELECT 'f', aggfnoid FROM pg_aggregate WHERE aggfnoid < 16384 AND {newer}
                        UNION SELECT 't', oid FROM pg_type WHERE oid < 16384 AND {newer}
                        UNION SELECT 't', rngtypid FROM pg_range WHERE rngtypid < 16384 AND {newer}"""
            self.altered = {"f": set(), "t": set()}
            for found, oid in self.rows(query):
                self.altered[found].add(oid)
        return self.altered[kind]

    def params(self) -> dict[str, object]:
        """The parameters of _BUILTIN_HARMLESS."""
        return {**_PARAMS, "altered": sorted(self.changed_built_ins("f"))}

    def resolved(self, names: Iterable[str], function: str) -> dict[str, int]:
        """Each name (as `_quote` writes it) that ``function`` (to_regclass, to_regtype) finds
        where the statement will: a qualified one as written, a bare one in the first schema of
        the user's search_path that has it.

        Those functions read the backend's catalog cache, which inside a transaction the user
        opened earlier may still hold a table another session has since dropped or renamed
        (the cache is brought up to date when a lock is taken); the statement's own parse takes
        its locks and sees the new object. So each name is also looked up in the catalog
        itself, and a name the two see as different objects, or one sees and the other not,
        fails the proof (objects of initdb cannot change)."""
        candidates = [(name, f"{_quote(schema)}.{name}" if _BARE.fullmatch(name) else name, i) for name in names for i, schema in enumerate(self.path)]
        catalog, name_column, schema_column = ("pg_class", "relname", "relnamespace") if function == "to_regclass" else ("pg_type", "typname", "typnamespace")
        query = f"""SELECT DISTINCT ON (n) n, cached, stored FROM unnest(%s::text[], %s::text[], %s::int[]) AS u(n, c, i)
                    CROSS JOIN LATERAL (SELECT {function}(c)::oid AS cached) AS f
                    LEFT JOIN LATERAL (
                        SELECT o.oid AS stored FROM parse_ident(c) AS p, {catalog} o
                        WHERE cardinality(p) = 2 AND o.{name_column} = p[2] AND o.{schema_column} =
                              CASE WHEN p[1] = 'pg_temp' THEN pg_my_temp_schema() ELSE (SELECT oid FROM pg_namespace WHERE nspname = p[1]) END
                    ) AS s ON true
                    WHERE cached IS NOT NULL OR stored IS NOT NULL ORDER BY n, i"""
        found: dict[str, int] = {}
        for name, cached, stored in self.rows(query, tuple(map(list, zip(*candidates, strict=True))) if candidates else ([], [], [])):
            if cached != stored and max(cached or 0, stored or 0) >= _FIRST_USER_OID:
                self.fail(f"names {name}, which another session has changed since this transaction began")
            if cached is not None:
                found[name] = cached
        return found

    # -- the statement ------------------------------------------------------------------------------
    def statement(self, facts: _Facts) -> list[str]:
        """Every relation named, every call, operator and cast reached, every type in play."""
        names = sorted(facts.names)
        relations = self.rows(
            """SELECT c.oid, c.relname::text, c.reltype,
                      ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
               FROM pg_class c WHERE c.oid = ANY(%s::oid[]) ORDER BY c.oid""",
            (sorted(set(self.resolved(names, "to_regclass").values())),),
        )
        whole = self.read_whole(facts, relations)
        for oid, _, _, _ in relations:
            self.relation(oid, None if oid in whole else frozenset(facts.words))
        self.named_rows = {row for _, _, row, _ in relations}
        # A row type is handled when its row is read whole; naming the table only reads from it.
        unread_rows = {row for oid, _, row, _ in relations if oid not in whole}
        # `x.mydom` with no function mydom is a cast of x to the type mydom (func_get_detail's
        # fallback): every member name is also a bare type name
        members_as_types = {_quote(member) for _, member in facts.members}
        self.in_play |= set(self.resolved(set(names) | facts.grammar_types | members_as_types, "to_regtype").values()) - unread_rows
        overloads, forced = self.overloads(facts, self.calling_members(facts, relations))
        self.in_play |= self.classed_built_ins()
        # Until nothing more is in play: what a call returns, a domain's check names, an
        # element of an array or a field of a row in play, may reach more calls and operators.
        checked: set[int] = set()
        while True:
            before = set(self.in_play)
            self.in_play |= self.parts(self.in_play)
            reached = {oid for oid in overloads if oid in forced or self.relevant(oid)}
            self.in_play |= {overloads[oid][1] for oid in reached}
            for oid in sorted(reached - checked):
                checked.add(oid)
                self.in_play |= self.handled_types(oid)  # arguments and results are coerced into these (domain checks, `t.f` whole rows)
                if not self.function(oid):
                    self.fail(f"calls {overloads[oid][0]}, which is not known to be harmless")
            self.types_in_play()
            self.operators(facts.operators | _IMPLICIT_OPERATORS, facts.loose_sides, untyped=facts.untyped)
            self.casts()
            self.types_in_play()  # and those the operators' and casts' SQL functions return
            if self.in_play == before:
                return self.reasons

    def classed_built_ins(self) -> set[int]:
        """Built-in types whose default btree or hash family a user made or added to (a
        superuser's `DEFAULT FOR TYPE point`), or that convert to a user's type without a
        function, implicitly (whose default class then sorts and hashes them where they have
        none of their own: `parts`): their values arise unnamed (`b[1]` of a box is a point,
        `lseg # lseg` another), and DISTINCT, ORDER BY or a hash join run the family, so every
        statement here may handle them."""
        query = f"""
            SELECT DISTINCT c.opcintype FROM pg_opclass c JOIN pg_am am ON am.oid = c.opcmethod
            WHERE c.opcdefault AND am.amname IN ('btree', 'hash') AND c.opcintype < 16384
              AND ({_user_made("c")} OR EXISTS (SELECT 1 FROM pg_amproc ap WHERE ap.amprocfamily = c.opcfamily AND {_user_made("ap")})
                   OR EXISTS (SELECT 1 FROM pg_amop ao WHERE ao.amopfamily = c.opcfamily AND {_user_made("ao")}))
            UNION SELECT c.castsource FROM pg_cast c
            WHERE c.castmethod = 'b' AND c.castcontext = 'i' AND c.castsource < 16384 AND c.casttarget >= 16384"""
        return {r[0] for r in self.rows(query)}

    def parts(self, types: set[int]) -> set[int]:
        """The types values of these types are made of, at any depth: an array's elements, a
        domain's base, a row's fields, a range's bounds, a multirange's ranges (`unnest(perms)`
        gives a perm, `(addr).hue` a hue, `lower(span)` a mood); and those built from a user's
        type unnamed (`ARRAY[m]` and `array_agg(m)` give a mood[], `range_agg(r)` a
        multirange), and a user's type that one converts to without a function, implicitly:
        where a type has no default btree or hash class of its own (json, xml, point), the
        server sorts and hashes it with such a type's."""
        query = """
            WITH RECURSIVE parts(oid) AS (
                SELECT unnest(%s::oid[])
                UNION SELECT p.oid FROM parts JOIN pg_type t ON t.oid = parts.oid
                CROSS JOIN LATERAL (SELECT t.typelem WHERE t.typelem <> 0 UNION ALL SELECT t.typbasetype WHERE t.typbasetype <> 0
                    UNION ALL SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
                    UNION ALL SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = t.oid
                    UNION ALL SELECT r.rngtypid FROM pg_range r WHERE r.rngmultitypid = t.oid
                    UNION ALL SELECT t.typarray WHERE t.oid >= 16384 AND t.typarray <> 0
                    UNION ALL SELECT r.rngmultitypid FROM pg_range r WHERE r.rngtypid = t.oid AND t.oid >= 16384
                    UNION ALL SELECT c.casttarget FROM pg_cast c WHERE c.castsource = t.oid AND c.castmethod = 'b'
                                                                  AND c.castcontext = 'i' AND c.casttarget >= 16384) AS p(oid))
            SELECT oid FROM parts"""
        return {r[0] for r in self.rows(query, (sorted(types),))}

    def read_names(self, facts: _Facts, queries: set[str]) -> tuple[str, ...]:
        """The relations the statement's FROM reads, each as schema.name, as the server resolves
        them (a partition, a temporary table: the schema the checks read lists neither); not
        a name WITH defines (``queries``: `WITH t AS (...) ... FROM t` reads no table t)."""
        items = [item for item in facts.from_items if item.schema is not None or item.name.lower() not in queries]
        oids = sorted(set(self.resolved({_from_item_name(item) for item in items}, "to_regclass").values()))
        query = "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY(%s::oid[]) ORDER BY 1"
        return tuple(name for (name,) in self.rows(query, (oids,)))

    def read_whole(self, facts: _Facts, relations: list[tuple]) -> set[int]:
        """The relations whose every column the statement may read: all of them under `*`,
        NATURAL or TABLE; otherwise those renamed by a column list, or whose name or alias is
        used as a value (a whole-row reference), with `*`, or with a member that is not one of
        its columns (`t.f` calls f on the whole row)."""
        if facts.all_columns:
            return {oid for oid, _, _, _ in relations}
        found = self.resolved({_from_item_name(item) for item in facts.from_items}, "to_regclass")
        words: dict[int, set[str]] = {oid: {name} for oid, name, _, _ in relations}
        whole: set[int] = set()
        for item in facts.from_items:
            oid = found.get(_from_item_name(item))
            if oid in words and item.alias is not None:
                words[oid].add(item.alias)
                if item.renames_columns:
                    whole.add(oid)
        qualifiers = set().union(*words.values()) if words else set()
        # `public.accounts` names the table whole even where `public` is also an alias
        qualifiers -= {r[0] for r in self.rows("SELECT nspname::text FROM pg_namespace WHERE nspname = ANY(%s)", (sorted(qualifiers),))}
        columns = {oid: set(names) for oid, _, _, names in relations}
        for use in facts.uses:
            if use.qualifier is not None and use.qualifier in qualifiers:
                continue  # a column of, or a call on, the relation before its `.`: judged there
            for oid, named in words.items():
                if use.name in named and (use.member is None or use.member not in columns[oid]):
                    whole.add(oid)
        return whole

    def holds_any_type(self, types: set[int]) -> bool:
        """Whether values of these types may be anyarray (pg_statistic's values), inside arrays
        and rows too (pg_statistic_ext_data's pg_statistic[])."""
        return bool(types) and _ANYARRAY in self.parts(types)

    def stored_values(self) -> bool:
        """Whether values of any type this database has are printed harmlessly: every base,
        range and multirange type that is not built-in passes (the others print through them),
        and every table whose row values print through its being opened opens harmlessly."""
        if self.printing is None:
            self.printing = True
            types = self.rows(f"SELECT t.oid FROM pg_type t WHERE {_user_made('t')} AND t.typtype IN ('b', 'r', 'm') ORDER BY t.oid")
            # a row value prints through record_out, which opens its type's table
            tables = {row[0] for row in self.rows(_OPENED_HANDLERS + "c.relkind IN ('r', 'm', 'p')")}
            self.printing = all([self.type(t) for (t,) in types]) and all([self.opened(r) is None for r in sorted(tables)])
        return self.printing

    def handlers(self) -> bool:
        """Whether the handlers of the access methods and foreign-data wrappers that are not
        built-in (or were changed after initdb), and the support functions that opening an
        index runs (_OPENING_SUPPORT), are harmless: built-ins that open a relation they are
        given run them."""
        if self.handling is None:
            self.handling = True
            functions = self.rows(
                f"""SELECT am.amhandler::oid FROM pg_am am WHERE {_user_made("am")}
                    UNION SELECT w.fdwhandler::oid FROM pg_foreign_data_wrapper w WHERE w.fdwhandler <> 0
                    UNION SELECT ap.amproc::oid FROM pg_amproc ap JOIN pg_opfamily f ON f.oid = ap.amprocfamily JOIN pg_am am ON am.oid = f.opfmethod
                          WHERE {_user_made("ap")} AND {_OPENING_SUPPORT}"""
            )
            self.handling = all([self.function(f) for (f,) in functions])
        return self.handling

    def text_search(self) -> bool:
        """Whether the text search templates and parsers that are not built-in (an extension's
        dictionaries: unaccent, dict_int) are harmless: text search built-ins run them."""
        if self.searching is None:
            self.searching = True
            functions = self.rows(
                f"""SELECT f FROM pg_ts_template t, unnest(ARRAY[t.tmplinit, t.tmpllexize]::oid[]) f WHERE {_user_made("t")} AND f <> 0
                   UNION SELECT f FROM pg_ts_parser p, unnest(ARRAY[p.prsstart, p.prstoken, p.prsend, p.prsheadline, p.prslextype]::oid[]) f
                   WHERE {_user_made("p")} AND f <> 0"""
            )
            self.searching = all([self.function(f) for (f,) in functions])
        return self.searching

    def argument_types(self, oid: int) -> list[int]:
        """Its input parameters' types: a call reaches it only with values of these."""
        (types,) = self.rows("SELECT proargtypes::oid[] FROM pg_proc WHERE oid = %s", (oid,))[0]
        return list(types or ())

    def handled_types(self, oid: int) -> set[int]:
        """Every type a call converts values to: its parameters', and its OUT and TABLE
        columns' (a domain's CHECK runs as the body's result becomes such a column)."""
        (types,) = self.rows("SELECT proargtypes::oid[] || coalesce(proallargtypes, '{}') FROM pg_proc WHERE oid = %s", (oid,))[0]
        return set(types or ())

    def types_in_play(self) -> None:
        for oid in sorted(self.in_play):
            self.type(oid)

    @staticmethod
    def calling_members(facts: _Facts, relations: list[tuple]) -> set[str]:
        """The names after a `.` that may call a function: PostgreSQL reads `q.f` as column f
        only where q is a relation of FROM that has one, and as f(q) otherwise (`(g).f`,
        `s.f` of a function in FROM, `fa.f` where fb has the column)."""
        columns: dict[str, set[str]] = {}
        for item in facts.from_items:
            found = [set(named) for _, relname, _, named in relations if relname == item.name]
            have = set.intersection(*found) if found and not item.renames_columns else set()
            label = item.alias or item.name
            columns[label] = columns[label] & have if label in columns else have
        return {name for qualifier, name in facts.members if qualifier is None or name not in columns.get(qualifier, set())}

    def overloads(self, facts: _Facts, members: set[str]) -> tuple[dict[int, tuple[str, int]], set[int]]:
        """The functions each call (or `t.f` field notation) may reach, with their return types,
        and those reached whatever the types in play (a call with an argument that is not a name).
        A member that is no column of a relation named (``members``) may call a function of any
        one argument type, which the row may reach through an implicit cast."""
        found: dict[int, tuple[str, int]] = {}
        forced: set[int] = set()
        for call in facts.calls:
            query = """
                SELECT p.oid, p.oid::regprocedure::text, p.prorettype FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE p.proname = %(name)s AND p.prokind <> 'p'
                  AND (n.nspname = %(schema)s OR (%(schema)s = 'pg_temp' AND n.oid = pg_my_temp_schema())
                       OR (%(schema)s IS NULL AND n.nspname = ANY(%(path)s::text[])))
                  AND (%(args)s::int IS NULL OR (%(args)s BETWEEN p.pronargs - p.pronargdefaults AND p.pronargs)
                       OR (p.provariadic <> 0 AND %(args)s >= p.pronargs - 1))"""
            rows = self.rows(query, {"name": call.name, "schema": call.schema, "args": call.args, "path": list(self.path)})
            if call.schema is not None and not rows:  # it names a schema, so it is a call the server will look up
                self.fail(f"calls {call.schema}.{call.name}, which this check finds no function for")
            for oid, label, ret in rows:
                found[oid] = (label, ret)
                if not call.names_only:
                    forced.add(oid)
        # `SELECT t.f FROM t` calls f(t): any one-argument function on a row type may be reached.
        field_notation = """
            SELECT p.oid, p.oid::regprocedure::text, p.prorettype FROM pg_proc p JOIN pg_type t ON t.oid = p.proargtypes[0]
            WHERE p.pronargs - p.pronargdefaults <= 1 AND p.pronargs >= 1 AND p.prokind = 'f'
              AND (t.typtype IN ('c', 'p', 'd') AND p.proname = ANY(%s::text[]) OR p.proname = ANY(%s::text[]))"""
        for oid, label, ret in self.rows(field_notation, (sorted(facts.words), sorted(members))):
            found.setdefault(oid, (label, ret))
        return found, forced

    def relevant(self, oid: int) -> bool:
        return self.reachable(self.argument_types(oid))

    def reachable(self, argument_types: Iterable[int]) -> bool:
        """A function or operator matters unless one of its arguments is a non-built-in type the
        statement never handles: no value of that type can reach it. Built-in types (pseudo-types
        such as anyelement included) can always be reached, from literals if nothing else."""
        return all(self.reachable_type(t) for t in argument_types)

    def reachable_type(self, oid: int, seen: frozenset[int] = frozenset()) -> bool:
        """A value of this type may arise: a built-in, a type in play, a named row, a domain
        over one of those, an array or a multirange of one (`range_agg`), the target of an
        implicit cast from one (as a call coerces), or a composite type, which any record
        (`ROW(1, 2)`, a subquery's or VALUES' whole row) becomes where a call or an operator
        wants one."""
        if oid < 16384 or oid in self.in_play or oid in self.named_rows:
            return True
        if oid in seen:
            return False
        sources = self.rows(
            """SELECT t.typbasetype FROM pg_type t WHERE t.oid = %(t)s AND t.typtype = 'd'
               UNION SELECT t.typelem FROM pg_type t WHERE t.oid = %(t)s AND t.typelem <> 0
               UNION SELECT r.rngtypid FROM pg_range r WHERE r.rngmultitypid = %(t)s
               UNION SELECT c.castsource FROM pg_cast c WHERE c.casttarget = %(t)s AND c.castcontext = 'i'
               UNION SELECT 'record'::regtype::oid FROM pg_type t WHERE t.oid = %(t)s AND t.typtype = 'c'""",
            {"t": oid},
        )
        return any(self.reachable_type(source, seen | {oid}) for (source,) in sources)

    # -- functions ----------------------------------------------------------------------------------
    def function(self, oid: int, *, type_io: bool = False) -> bool:
        """Whether calling it is harmless. ``type_io``: reached as a type's own I/O function,
        where a TYPE_DISPATCH built-in (record_in of a row type) serves that type alone, which
        is judged as a type; reached any other way (a view's `pg_input_is_valid(x, 'dom')`, an
        operator's function, `array_in(..., 17778::oid, -1)`) it runs the input function and
        checks of a type given as data, which no tree or pg_depend row names."""
        if oid == 0:
            return True
        if oid in self.dispatchers():
            return type_io
        if oid not in self.functions:
            self.functions[oid] = True  # a recursive SQL function is as harmless as the rest of its body
            self.functions[oid] = self._function(oid)
        return self.functions[oid]

    def dispatchers(self) -> frozenset[int]:
        """The OIDs of the TYPE_DISPATCH built-ins."""
        if self.dispatching is None:
            self.dispatching = frozenset(
                r[0] for r in self.rows("SELECT oid FROM pg_proc WHERE oid < 16384 AND pronamespace = 'pg_catalog'::regnamespace AND proname = ANY(%s)", (sorted(TYPE_DISPATCH),))
            )
        return self.dispatching

    def _function(self, oid: int) -> bool:
        builtin, name, catalog = self.rows(
            f"""SELECT {_BUILTIN_HARMLESS}, p.proname::text, p.oid < 16384 AND p.oid <> ALL(%(altered)s::oid[]) AND p.pronamespace = 'pg_catalog'::regnamespace
                FROM pg_proc p WHERE p.oid = %(oid)s""",
            {**self.params(), "oid": oid},
        )[0]
        if builtin:
            return True
        if catalog and name in HANDLER_CALLERS and not self.handlers():
            return False
        if catalog and (name in PRINTERS or name in TYPE_NAMES):
            return self.stored_values() and (name not in PRINTERS or self.handlers())
        if catalog and name in HANDLER_CALLERS:
            return True
        if catalog and name in TEXT_SEARCH:
            return self.text_search()
        if catalog and name in CONVERSIONS:
            return all([self.function(f) for (f,) in self.rows(f"SELECT c.conproc::oid FROM pg_conversion c WHERE {_user_made('c')}")])
        rows = self.rows(
            """SELECT p.prolang, p.prokind, p.proconfig IS NULL, p.prosecdef, p.prosqlbody IS NOT NULL, p.prosrc, p.prorettype, p.prosupport::oid,
                      EXISTS (SELECT 1 FROM unnest(p.proargtypes::oid[] || coalesce(p.proallargtypes, '{}') || p.prorettype) AS a(oid) JOIN pg_type t ON t.oid = a.oid
                              WHERE t.typtype = 'p' AND t.typname LIKE 'any%%')
               FROM pg_proc p WHERE p.oid = %s""",
            (oid,),
        )
        if not rows:
            return False
        language, kind, no_settings, definer, atomic, source, returns, support, polymorphic = rows[0]
        if language != _SQL_LANGUAGE or kind != "f" or not no_settings or self.depth >= _MAX_DEPTH:
            return False
        # SECURITY DEFINER: a body kept as text is read at the call as its owner reads it, on
        # the owner's "$user" and the schemas the owner may use, not on the asker's path this
        # proof resolves names on (a view in the owner's schema, calling code, took the place
        # of the plain table proven). A stored BEGIN ATOMIC tree names its objects for good.
        if definer and not atomic:
            return False
        # A polymorphic body's operators and calls are resolved per call, on the types of its
        # arguments there (`$1 && $1` of anyelement), which this proof cannot know in advance.
        if polymorphic:
            return False
        # the planner calls a support function while planning a call (set with ALTER FUNCTION,
        # which pg_depend records, or by an UPDATE of pg_proc, which it does not)
        if not self.function(support):
            return False
        self.in_play.add(returns)
        self.in_play |= self.handled_types(oid)  # its body handles them, whatever pg_depend says
        # BEGIN ATOMIC: the server stored the body's tree; argument defaults (`x int DEFAULT
        # g()`) are stored trees of every function
        if not self.dependencies("pg_proc", oid):
            return False
        if atomic:  # its stored tree's relations are what it reads
            self.body_reads.update(name for (name,) in self.rows(_ATOMIC_READS, (oid,)))
            return True
        return all(self.body(statement) for statement in _body_statements(source))

    def body(self, sql: str) -> bool:
        """A SQL function's statement, proven as a statement of its own (parameters are names)."""
        facts, problem = _read_tokens(sql)
        if problem or classify(sql).writes:
            return False
        inner = _Prover(self.conn, self.path, self.depth + 1)
        inner.functions, inner.relations, inner.types, inner.altered = self.functions, self.relations, self.types, self.altered
        inner.in_play, inner.body_reads = set(self.in_play), self.body_reads
        if inner.statement(facts):
            return False
        self.body_reads.update(inner.read_names(facts, _query_names(sql)))
        return True

    # -- what the server recorded: view rules, policies, atomic bodies, domain checks -----------------
    def dependencies(self, catalog: str, oid: int, *, classes: bool = False, objects: bool = True) -> bool:
        """What the server recorded an object uses, and what its stored expressions call; with
        ``classes`` the functions of the operator classes it uses too, and without ``objects``
        not the relations and types it names (a partitioned table names its own columns'
        types, which are in play only where the statement reads them)."""
        ok = self.stored_code(catalog, oid)
        rows = self.rows(
            """SELECT refclassid::regclass::text, refobjid FROM pg_depend
               WHERE classid = %s::regclass AND objid = %s AND deptype = 'n'""",
            (catalog, oid),
        )
        for ref_catalog, ref in rows:
            if ref_catalog == "pg_proc":
                ok = self.function(ref) and ok
            elif ref_catalog == "pg_operator":
                ok = self.operator(ref) and ok
            elif ref_catalog == "pg_opclass" and classes:
                ok = all([self.function(f) for f in self.class_functions("SELECT %(c)s::oid", {"c": ref})]) and ok
            elif ref_catalog == "pg_class" and objects:
                ok = self.relation(ref) and ok
            elif ref_catalog == "pg_type" and objects:
                self.in_play.add(ref)
                ok = self.type(ref) and ok
        return ok

    def added_to_classes(self, index: int) -> list[int]:
        """The functions a user added to (or changed in) the families of an index's operator
        classes, of any method: a built-in class has no pg_depend row to follow, and its scan
        (a GIN `@>`, a BRIN range check) runs them."""
        query = f"""
            WITH families AS (SELECT c.opcfamily FROM pg_index i, unnest(i.indclass::oid[]) AS k(oid) JOIN pg_opclass c ON c.oid = k.oid
                              WHERE i.indexrelid = %s)
            SELECT ap.amproc::oid FROM families f JOIN pg_amproc ap ON ap.amprocfamily = f.opcfamily WHERE {_user_made("ap")}
            UNION SELECT o.oprcode::oid FROM families f JOIN pg_amop ao ON ao.amopfamily = f.opcfamily
                  JOIN pg_operator o ON o.oid = ao.amopopr WHERE {_user_made("ao")}"""
        return [r[0] for r in self.rows(query, (index,))]

    def class_functions(self, classes: str, params: dict) -> list[int]:
        """The support functions and operator functions of the operator families of the
        classes that ``classes`` (a query of pg_opclass OIDs) selects."""
        query = f"""
            WITH chosen AS ({classes}), families AS (SELECT c.opcfamily FROM pg_opclass c JOIN chosen ON chosen.oid = c.oid)
            SELECT ap.amproc::oid FROM families f JOIN pg_amproc ap ON ap.amprocfamily = f.opcfamily
            UNION SELECT o.oprcode::oid FROM families f JOIN pg_amop ao ON ao.amopfamily = f.opcfamily JOIN pg_operator o ON o.oid = ao.amopopr"""
        return [r[0] for r in self.rows(query, params)]

    def stored_code(self, catalog: str, oid: int) -> bool:
        """The functions, operators, relations and value types an object's stored expression
        trees use, read from the trees themselves (pg_depend records no built-in: a view's
        `query_to_xml` or `nextval`, a policy's `pg_try_advisory_lock`, a GREATEST over json
        sorted by a user's default class); reading a tree as text runs nothing."""
        query = _STORED_TREES.get(catalog)
        if query is None:
            return True
        trees = " ".join(tree for row in self.rows(query, (oid,)) for tree in row if tree)
        functions = {int(n) for n in _TREE_FUNCTIONS.findall(trees)} - {0}
        operators = {int(n) for n in _TREE_OPERATORS.findall(trees)} | {int(n) for group in _TREE_OPERATOR_LISTS.findall(trees) for n in group.split()}
        relations = {int(n) for n in _TREE_RELATIONS.findall(trees)} - {0, oid}
        types = {int(n) for n in _TREE_TYPES.findall(trees)} | {int(n) for group in _TREE_TYPE_LISTS.findall(trees) for n in group.split()}
        if "ROWMARKCLAUSE" in trees:  # a view's FOR UPDATE locks rows
            return self.fail("locks rows (FOR UPDATE or SHARE in a stored query)")
        if _TREE_WRITES.search(trees):  # the statements of a BEGIN ATOMIC body
            return self.fail("writes (a data-changing statement in a stored query)")
        return all(
            [
                *(self.function(f) for f in sorted(functions)),
                *(self.operator(o) for o in sorted(operators - {0})),
                *(self.relation(r) for r in sorted(relations)),
                *(self.type(t) for t in sorted(types - {0})),
            ]
        )

    # -- relations ----------------------------------------------------------------------------------
    def relation(self, oid: int, columns: frozenset[str] | None = None) -> bool:
        """Whether reading the relation is harmless; the types of its columns named in
        ``columns`` (all of them for None) are in play."""
        key = (oid, columns)
        if key not in self.relations:
            self.relations[key] = True
            self.relations[key] = self._relation(oid, columns)
        return self.relations[key]

    def _relation(self, oid: int, columns: frozenset[str] | None) -> bool:
        rows = self.rows(
            "SELECT c.relkind, c.oid::regclass::text, c.relrowsecurity FROM pg_class c WHERE c.oid = %s",
            (oid,),
        )
        if not rows:  # resolved a moment ago: another session dropped it
            return self.fail(f"reads relation {oid}, which another session has dropped")
        kind, label, row_security = rows[0]
        # a table access method's handler runs on every scan; an index's when the parser opens
        # one named in FROM (before it says an index cannot be read)
        if (opened := self.opened(oid)) is not None:
            return self.fail(f"reads {label}, whose {opened} is not known to be harmless")
        if kind in ("i", "I", "S", "c", "t"):  # indexes, sequences, row types, TOAST: named, not scanned here
            return True
        if kind == "f":
            return self.fail(f"reads foreign table {label}, whose reading may run anything")
        if kind not in ("r", "p", "v", "m"):
            return self.fail(f"reads {label}, which is not a table or view")
        attributes = self.rows("SELECT attname::text, atttypid FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped", (oid,))
        read = {t for name, t in attributes if columns is None or name in columns}
        if self.holds_any_type(read) and not self.stored_values():
            return self.fail(f"reads {label}, whose statistics hold values of every column type, printed by their own functions")
        self.in_play |= read
        ok = True
        # PostgreSQL 18's virtual generated columns are computed whenever they are read
        virtual = """SELECT d.oid, a.attname::text FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                     WHERE d.adrelid = %s AND a.attgenerated = 'v'"""
        for default, column in self.rows(virtual, (oid,)):
            if (columns is None or column in columns) and not self.dependencies("pg_attrdef", default, objects=False):
                ok = self.fail(f"reads {label}, whose generated column {column} is not known to be harmless")
        for (child,) in self.rows("SELECT inhrelid FROM pg_inherits WHERE inhparent = %s", (oid,)):
            ok = self.relation(child, columns) and ok
        for parent, name in self.rows(_ANCESTOR_KEYS, (oid,)):
            if not (self.dependencies("pg_class", parent, classes=True, objects=False) and self.key_classes(parent)):
                ok = self.fail(f"reads {label}, a partition of {name}, whose partition key is not known to be harmless")
        if kind == "v":  # a materialized view's query runs only on REFRESH
            # its ON SELECT rule: one ON INSERT, UPDATE or DELETE never runs for a read
            for (rule,) in self.rows("SELECT oid FROM pg_rewrite WHERE ev_class = %s AND ev_type = '1'", (oid,)):
                ok = self.dependencies("pg_rewrite", rule) and ok
            if not ok:
                self.fail(f"reads view {label}, whose definition is not known to be harmless")
        ok = self.catalog_code(oid, label, columns, {name for name, _ in attributes}) and ok
        if row_security:
            for policy, name in self.rows("SELECT oid, polname FROM pg_policy WHERE polrelid = %s", (oid,)):
                if not self.dependencies("pg_policy", policy):
                    ok = self.fail(f"reads {label}, whose row security policy {name} is not known to be harmless")
        return ok

    def opened(self, oid: int) -> str | None:
        """What opening the relation runs that is not known to be harmless (its access
        method's handler, or its TOAST table's or TOAST index's), in words; None: nothing."""
        for _, itself, index, name, handler in self.rows(_OPENED_HANDLERS + "c.oid = %s", (oid,)):
            if not self.function(handler):
                method = f"{'index' if index else 'table'} access method"
                return method if itself else f"TOAST {'index' if index else 'table'} {name}'s {method}"
        return None

    def catalog_code(self, oid: int, label: str, columns: frozenset[str] | None, attributes: set[str]) -> bool:
        """Code the planner runs for any read of the relation: its indexes' expressions and
        predicates, CHECK constraints (constraint exclusion), its partition key and its
        statistics' expressions are folded when they hold a constant call (`WHERE total >
        lim()`); an index's or the partition key's operator class runs when the query filters
        or sorts on its columns (a pg_trgm index on a column the query searches), or when the
        index alone can answer it (an index-only scan for `count(*)`)."""
        ok = True
        read = None if columns is None else columns & attributes
        indexes = self.rows(
            f"""SELECT i.indexrelid, i.indexrelid::regclass::text, i.indexprs IS NOT NULL,
                      ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)),
                      am.amname <> ALL('{{gin,brin,hash}}'), CASE WHEN {_user_made("am")} THEN am.amhandler::oid END
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = %s""",
            (oid,),
        )
        for index, name, expressions, keys, returns, handler in indexes:
            used = read is None or expressions or bool(read & set(keys)) or (returns and read <= set(keys))
            # the planner opens every index of a table it reads: its method's handler (an
            # extension's: bloom, pgvector's hnsw) and its classes' options function run
            opening = [handler] if handler is not None else []
            opening += [f for (f,) in self.rows(
                f"""SELECT ap.amproc::oid FROM pg_index i, unnest(i.indclass::oid[]) AS k(oid) JOIN pg_opclass c ON c.oid = k.oid
                    JOIN pg_am am ON am.oid = c.opcmethod JOIN pg_amproc ap ON ap.amprocfamily = c.opcfamily
                    WHERE i.indexrelid = %s AND {_OPENING_SUPPORT}""", (index,))]
            if not (all([self.function(f) for f in opening]) and self.dependencies("pg_class", index, classes=used, objects=False)):
                ok = self.fail(f"reads {label}, whose index {name} is not known to be harmless")
            elif used and not all([self.function(f) for f in self.added_to_classes(index)]):
                ok = self.fail(f"reads {label}, whose index {name} uses an operator family changed after initdb")
        parts = self.rows(
            """SELECT 'pg_constraint', c.oid, c.conname::text FROM pg_constraint c WHERE c.conrelid = %(r)s AND c.contype = 'c'
               UNION ALL SELECT 'pg_statistic_ext', s.oid, s.stxname::text FROM pg_statistic_ext s WHERE s.stxrelid = %(r)s
               UNION ALL SELECT 'pg_class', %(r)s, 'partition key' FROM pg_partitioned_table WHERE partrelid = %(r)s""",
            {"r": oid},
        )
        keys = self.rows(
            """SELECT a.attname::text FROM pg_partitioned_table p JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = ANY(p.partattrs)
               WHERE p.partrelid = %s""",
            (oid,),
        )
        prunes = read is None or bool(read & {k for (k,) in keys})
        for catalog, part, name in parts:
            key = catalog == "pg_class" and prunes
            if not (self.dependencies(catalog, part, classes=key, objects=False) and (not key or self.key_classes(part))):
                ok = self.fail(f"reads {label}, whose {name} is not known to be harmless")
        return ok

    def key_classes(self, partitioned: int) -> bool:
        """Whether the operator classes of a partition key are harmless, read where the server
        reads them (pg_partitioned_table.partclass) rather than from pg_depend, which a
        superuser can edit."""
        query = "SELECT k.oid FROM pg_partitioned_table p, unnest(p.partclass::oid[]) AS k(oid) WHERE p.partrelid = %(r)s"
        return all([self.function(f) for f in self.class_functions(query, {"r": partitioned})])

    # -- operators and casts ------------------------------------------------------------------------
    def operators(self, written: Iterable[str], loose: dict[str, tuple[bool, bool]], *, untyped: bool = False) -> None:
        """Operators whose functions are not harmless built-ins and that the statement may use:
        the name is written (or implied) and each operand's type can be reached, or the operand
        is a literal that takes whatever type the operator wants. With ``untyped`` (a literal
        or NULL in the statement), an implied one (`m BETWEEN 'a' AND 'b'`, `m IN ('a')`,
        `CASE m WHEN 'a'`, `NULLIF(m, 'a')`) may take the literal on either side, so one
        reachable operand is enough. An operator is looked up on the search_path only: one in
        another schema (which the user may not even use) is reached only by `OPERATOR(schema.op)`,
        which no proof follows (a view's stored text names it so too); and one behind
        pg_catalog's of the same name and operand types (a `public.=(text,text)` on the default
        path) is never chosen: any owner's such operator made every answer unproven."""
        runs = list(written)
        query = f"""
            SELECT o.oid, o.oprname, o.oprleft, o.oprright, o.oprresult, o.oid::regoperator::text FROM pg_operator o
            WHERE ({_user_made("o")}  -- its operand types: a domain's CHECK runs as an operand is coerced to it
               OR EXISTS (SELECT 1 FROM pg_operator x JOIN pg_proc p ON p.oid IN (x.oprcode, x.oprrest, x.oprjoin)
                          WHERE x.oid IN (o.oid, o.oprnegate, o.oprcom) AND NOT ({_BUILTIN_HARMLESS}))
               OR EXISTS (SELECT 1 FROM pg_amop ao JOIN pg_amproc ap ON ap.amprocfamily = ao.amopfamily
                          WHERE ao.amopopr = o.oid AND ({_user_made("ao")} OR {_user_made("ap")})))
              AND o.oprnamespace IN (SELECT n.oid FROM pg_namespace n WHERE n.nspname = ANY(%(path)s::text[]))
              AND NOT EXISTS (  -- one of pg_catalog's of the same name and operand types comes first on the path: never chosen
                  SELECT 1 FROM pg_operator b WHERE b.oprnamespace = 'pg_catalog'::regnamespace AND b.oid <> o.oid
                     AND b.oprname = o.oprname AND b.oprleft = o.oprleft AND b.oprright = o.oprright
                     AND array_position(%(path)s::text[], 'pg_catalog') < array_position(%(path)s::text[], (SELECT nspname::text FROM pg_namespace WHERE oid = o.oprnamespace)))"""
        for oid, name, left, right, result, label in self.rows(query, {**self.params(), "path": list(self.path)}):
            if not any(name in run for run in runs):
                continue
            any_left = any(loose.get(run, (False, False))[0] for run in runs if name in run)
            any_right = any(loose.get(run, (False, False))[1] for run in runs if name in run)
            if untyped and name in _IMPLICIT_OPERATORS:
                any_left = any_left or self.reachable((right,))
                any_right = any_right or self.reachable((left,))
            if not ((any_left or self.reachable((left,))) and (any_right or self.reachable((right,)))) or self.unproven_type(left, right):
                continue
            self.in_play |= {left, right, result} - {0}  # its operands are coerced into these, and its result is sorted, grouped, compared as its type
            if not self.operator(oid):
                self.fail(f"may use operator {label}, which is not known to be harmless")

    def operator(self, oid: int) -> bool:
        """Its function and estimators, its negator and commutator, which the planner puts in
        its place (`NOT (a <@ b)` runs the negator), and the support functions of the btree and
        hash families it belongs to."""
        if oid not in self.operator_checks:
            self.operator_checks[oid] = True
            rows = self.rows("SELECT oprcode::oid, oprrest::oid, oprjoin::oid, oprnegate, oprcom FROM pg_operator WHERE oid = %s", (oid,))
            # hash joins, hashed IN and merge joins take their functions from any btree or hash
            # family the operator is in, not only the default class of its type
            support = self.rows(
                """SELECT DISTINCT ap.amproc::oid FROM pg_amop ao JOIN pg_amproc ap ON ap.amprocfamily = ao.amopfamily
                   WHERE ao.amopopr = %s AND ao.amopmethod IN (SELECT oid FROM pg_am WHERE amname IN ('btree', 'hash'))""",
                (oid,),
            )
            # and the other operators of those families, which the planner takes by strategy to
            # compare (a merge join's `<`, a partial index's implied `>=`): those not harmless
            members = self.rows(
                f"""SELECT DISTINCT f FROM pg_amop ao JOIN pg_amop member ON member.amopfamily = ao.amopfamily
                    JOIN pg_operator o ON o.oid = member.amopopr
                    CROSS JOIN LATERAL unnest(ARRAY[o.oprcode, o.oprrest, o.oprjoin]::oid[]) AS f JOIN pg_proc p ON p.oid = f
                    WHERE ao.amopopr = %(o)s AND ao.amopmethod IN (SELECT oid FROM pg_am WHERE amname IN ('btree', 'hash'))
                      AND NOT ({_BUILTIN_HARMLESS})""",
                {**self.params(), "o": oid},
            )
            self.operator_checks[oid] = bool(rows) and all(
                [
                    *(self.function(f) for f in rows[0][:3]),
                    *(self.operator(o) for o in rows[0][3:] if o),
                    *(self.function(f) for (f,) in support),
                    *(self.function(f) for (f,) in members),
                ]
            )
        return self.operator_checks[oid]

    def casts(self) -> None:
        """Casts with a function that is not a harmless built-in, from a type whose values may
        arise: into a type in play, or into a built-in type, which built-ins apply unwritten
        (`length(e)` to text, `to_jsonb(e)` to json) and `::integer` names as the check does not
        read it."""
        query = f"""
            SELECT c.castfunc, c.casttarget, c.castsource, c.casttarget < 16384,
                   format('%%s -> %%s', c.castsource::regtype, c.casttarget::regtype) FROM pg_cast c
            JOIN pg_proc p ON p.oid = c.castfunc WHERE NOT ({_BUILTIN_HARMLESS})"""
        for function, target, source, unwritten, label in self.rows(query, self.params()):
            if not self.reachable_type(source) or not (target in self.in_play or unwritten):
                continue  # no value of its source type arises, or nothing casts it here
            if not self.unproven_type(target) and not self.function(function):
                self.fail(f"may cast {label}, whose function is not known to be harmless")

    # -- types ----------------------------------------------------------------------------------------
    def unproven_type(self, *oids: int) -> bool:
        """Whether one of these types already failed: its reason covers its operators and casts."""
        return any(self.types.get(oid) is False for oid in oids)

    def type(self, oid: int) -> bool:
        if oid not in self.types:
            self.types[oid] = True
            self.types[oid] = self._type(oid) if oid >= 16384 or oid in self.changed_built_ins("t") else self._built_in_type(oid)
        return self.types[oid]

    def _built_in_type(self, oid: int) -> bool:
        """A built-in type's own functions are built-ins; what sorts, groups and hashes it is
        its default btree and hash operator class, which a user may have made (`DEFAULT FOR
        TYPE json`) or added functions to (other methods' classes serve indexes only). Its input
        function counts where it reads type names (regtype's: TYPE_NAMES)."""
        found = self.rows("SELECT %s::regtype::text, typinput::regproc::text FROM pg_type WHERE oid = %s", (oid, oid))
        if not found:
            return self.fail(f"names a type (OID {oid}) this check cannot find")
        (label, reads) = found[0]
        if reads in TYPE_NAMES and not self.stored_values():
            return self.fail(f"handles values of type {label}, whose input function reads type names, not known to be harmless here")
        functions = self.rows(
            f"""WITH classes AS (SELECT c.oid, c.xmin, c.opcfamily FROM pg_opclass c JOIN pg_am am ON am.oid = c.opcmethod
                                WHERE c.opcintype = %(t)s AND c.opcdefault AND am.amname IN ('btree', 'hash'))
               SELECT ap.amproc::oid FROM classes c JOIN pg_amproc ap ON ap.amprocfamily = c.opcfamily WHERE {_user_made("c")} OR {_user_made("ap")}
               UNION SELECT o.oprcode::oid FROM classes c JOIN pg_amop ao ON ao.amopfamily = c.opcfamily
                     JOIN pg_operator o ON o.oid = ao.amopopr WHERE {_user_made("c")} OR {_user_made("ao")}""",
            {"t": oid},
        )
        if not (all([self.function(f) for (f,) in functions]) and all([self.operator(o) for o in self.sort_operators(oid, user_made=True)])):
            return self.fail(f"handles values of type {label}, whose default operator class is not known to be harmless")
        # a CHECK added to a built-in domain (information_schema.cardinal_number) leaves its
        # pg_type row as initdb made it; the constraint's own row is new
        added = self.rows(f"SELECT con.oid FROM pg_constraint con WHERE con.contypid = %s AND {_user_made('con')}", (oid,))
        if not all([self.dependencies("pg_constraint", c) for (c,) in added]):
            return self.fail(f"handles values of type {label}, whose added constraint is not known to be harmless")
        return True

    def sort_operators(self, oid: int, *, user_made: bool) -> list[int]:
        """The operators of a type's default btree and hash classes (with ``user_made``, of
        those a user made or added to). The server sorts and groups with them, and takes their
        comparison and in_range functions from the first family that holds them, which may be
        another than the class's own: `operator()` reads every one."""
        made = f"AND ({_user_made('c')} OR {_user_made('ao')})" if user_made else ""
        query = f"""SELECT DISTINCT ao.amopopr FROM pg_opclass c JOIN pg_am am ON am.oid = c.opcmethod
                     JOIN pg_amop ao ON ao.amopfamily = c.opcfamily
                     WHERE c.opcintype = %(t)s AND c.opcdefault AND am.amname IN ('btree', 'hash') {made} ORDER BY 1"""
        return [r[0] for r in self.rows(query, {"t": oid})]

    def _type(self, oid: int) -> bool:
        rows = self.rows(
            """SELECT t.oid::regtype::text, t.typbasetype, t.typelem, t.typrelid,
                      ARRAY[t.typinput, t.typoutput, t.typreceive, t.typsend, t.typmodin, t.typmodout, t.typsubscript]::oid[],
                      ARRAY[r.rngsubtype, m.rngtypid]::oid[], ARRAY[r.rngcanonical, r.rngsubdiff]::oid[]
               FROM pg_type t LEFT JOIN pg_range r ON r.rngtypid = t.oid LEFT JOIN pg_range m ON m.rngmultitypid = t.oid
               WHERE t.oid = %s""",
            (oid,),
        )
        if not rows:
            return True
        label, base, element, relation, functions, subtypes, range_functions = rows[0]
        ok = all([*(self.function(f, type_io=True) for f in functions), *(self.function(f) for f in range_functions if f)])
        # The types it is made of give their own reasons.
        parts = all(self.type(t) for t in [base, element, *(s for s in subtypes if s)] if t)
        if relation:
            parts = all(self.type(r[0]) for r in self.rows("SELECT atttypid FROM pg_attribute WHERE attrelid = %s AND attnum > 0", (relation,))) and parts
            if (opened := self.opened(relation)) is not None:  # its values are read and printed through its table, opened
                ok = self.fail(f"handles values of type {label}, read through its table, whose {opened} is not known to be harmless")
        for (constraint,) in self.rows("SELECT oid FROM pg_constraint WHERE contypid = %s", (oid,)):
            ok = self.dependencies("pg_constraint", constraint) and ok
        # what compares it (its default classes) and, for a range, its subtype's class
        classes = "SELECT oid FROM pg_opclass WHERE opcintype = %(t)s AND opcdefault UNION SELECT rngsubopc FROM pg_range WHERE rngtypid = %(t)s"
        ok = all([self.function(f) for f in self.class_functions(classes, {"t": oid})]) and ok
        ok = all([self.operator(o) for o in self.sort_operators(oid, user_made=False)]) and ok
        if not ok:
            self.fail(f"handles values of type {label}, whose functions are not known to be harmless")
        return ok and parts

    def fail(self, reason: str) -> bool:
        """Record why; names are printed as the user's search_path shows them (the proof's own,
        pinned one qualifies every name outside pg_catalog)."""
        schemas = "|".join(re.escape(_quote(s)) + "|" + re.escape(s) for s in sorted(self.path, key=len, reverse=True))
        self.reasons.append(re.sub(rf'(?<![\w"$.])(?:{schemas})\.', "", reason) if schemas else reason)
        return False


def _body_statements(source: str) -> list[str]:
    """The statements of a SQL function's text body."""
    try:
        tokens = tokenize(source)
    except TokenError:
        return [source]  # unreadable: proven as written, which fails
    statements, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append(source[start : token.start])
            start = token.end + 1
    statements.append(source[start:])
    return [s for s in statements if s.strip()]
