"""Our result formatting against psql 15 itself: same query, same server, the same bytes.

Every case runs through Debian's ``psql -X`` and through ``text_loading`` + the formatters,
in each output mode a user can pick (aligned, ``-x``, ``--csv``, ``-t``, ``-A``...).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import psycopg
import pytest
from conftest import load_defog_db

from nl2sql_shell.db import format as fmt
from nl2sql_shell.db.embedded import EmbeddedServer
from nl2sql_shell.db.settings import Settings

PSQL = shutil.which("psql", path="/usr/bin")


def _psql_major() -> int | None:
    if PSQL is None:
        return None
    out = subprocess.run([PSQL, "--version"], capture_output=True, text=True).stdout
    return int(out.split()[2].split(".")[0])


# The layout rules followed are psql 15's (later versions widen some expanded records).
pytestmark = pytest.mark.skipif(_psql_major() != 15, reason="needs the psql 15 client")

SYNTHETIC = "format_cases"
SYNTHETIC_SETUP = """
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE TABLE item (
    id int, name text, m mood, p pair, price money, amount numeric(10, 2),
    ratio float8, small int2, at timestamptz, tags text[], doc jsonb, blob bytea, ok boolean
);
INSERT INTO item VALUES
    (1, 'plain', 'happy', (1, 'one'), 1.5, 12.34, 0.1, -7, '2024-02-29 13:45:00+00',
     '{a,b}', '{"k": [1, 2]}', '\\x00ff', true),
    (-20, E'two\\nlines', 'sad', (NULL, 'with space'), -1000, -0.5, -1e100, 32767,
     '1999-12-31 23:59:59.123456+00', '{"x y",NULL}', '{}', '', false),
    (NULL, NULL, NULL, NULL, NULL, NULL, 'NaN', NULL, NULL, '{}', 'null', NULL, NULL);
CREATE TABLE empty_t (a int, b text);
"""

# (database, query): the benchmark databases, then edge cases on synthetic data.
CASES: list[tuple[str, str]] = [
    ("academic", "SELECT * FROM author ORDER BY aid"),
    ("academic", "SELECT name, homepage FROM journal ORDER BY jid"),
    ("academic", "SELECT * FROM publication ORDER BY pid"),
    ("academic", "SELECT a.name, count(*) AS n FROM author a JOIN writes w ON a.aid = w.aid "
     "GROUP BY a.name ORDER BY n DESC, a.name"),
    ("academic", "SELECT continent, count(*), avg(oid) FROM organization GROUP BY 1 ORDER BY 1"),
    ("academic", "SELECT title, citation_num::float / nullif(reference_num, 0) AS ratio "
     "FROM publication ORDER BY pid"),
    ("academic", "SELECT k.keyword, array_agg(pk.pid ORDER BY pk.pid) FROM keyword k "
     "JOIN publication_keyword pk ON k.kid = pk.kid GROUP BY 1 ORDER BY 1"),
    ("academic", "SELECT * FROM cite WHERE false"),
    ("restaurants", "SELECT * FROM restaurant ORDER BY id"),
    ("restaurants", "SELECT food_type, avg(rating)::numeric(4, 2) AS avg_rating, max(rating) "
     "FROM restaurant GROUP BY 1 ORDER BY 1"),
    ("restaurants", "SELECT r.name, l.house_number || ' ' || l.street_name AS address, g.region "
     "FROM restaurant r JOIN location l ON r.id = l.restaurant_id "
     "JOIN geographic g ON g.city_name = r.city_name ORDER BY r.id"),
    ("geography", "SELECT * FROM state ORDER BY state_name"),
    ("geography", "SELECT state_name, string_agg(border, E'\\n' ORDER BY border) AS borders "
     "FROM border_info GROUP BY 1 ORDER BY 1"),
    ("geography", "SELECT river_name, length, length * 1.609344 AS km FROM river ORDER BY 2 DESC"),
    ("geography", "SELECT sum(population) AS total, count(*) FROM city"),
    ("geography", "SELECT * FROM highlow ORDER BY state_name"),
    ("yelp", "SELECT * FROM business ORDER BY bid"),
    ("yelp", "SELECT text, rating, year FROM review ORDER BY rid"),
    ("yelp", "SELECT b.name, json_agg(c.category_name ORDER BY c.category_name) AS cats "
     "FROM business b JOIN category c USING (business_id) GROUP BY b.name ORDER BY 1"),
    ("yelp", "SELECT day, sum(count) FROM checkin GROUP BY day ORDER BY 2 DESC, 1"),
    ("yelp", "SELECT name FROM users WHERE name LIKE 'Z%' ORDER BY 1"),
    (SYNTHETIC, "SELECT * FROM item ORDER BY id NULLS LAST"),
    (SYNTHETIC, "SELECT * FROM empty_t"),
    (SYNTHETIC, "SELECT FROM item"),
    (SYNTHETIC, "SELECT"),
    (SYNTHETIC, "SELECT 1"),
    (SYNTHETIC, "SELECT NULL AS n, '' AS e, ' lead' AS l, 'trail ' AS t"),
    (SYNTHETIC, "SELECT E'a\\nbb\\nccc' AS \"multi\nline header\", 1 AS x, E'\\n' AS nl, "
     "E'one\\ntwo' AS last"),
    (SYNTHETIC, "SELECT '日本語テキスト' AS 名前, 'ä' AS \"ü\", '😀 ok' AS emoji, 2 AS n"),
    # unassigned code points: one cell in psql's table, two in planes 2 and 3 (Python calls all wide)
    (SYNTHETIC, "SELECT 'a' || chr(x) || 'b' AS v, 'a' || chr(x + 160000) || 'b' AS w FROM unnest(array[888, 12352]) AS x "
     "UNION ALL SELECT 'abc', 'abcd' UNION ALL SELECT 'a' || chr(917632) || 'b', 'a' || chr(262141) || 'b'"),
    (SYNTHETIC, "SELECT E'tab\\there\\t.' AS tabs, E'cr\\rx' AS cr, E'\\x01\\x1b[0m\\x7f' AS ctl, "
     "E'\\u0085c1' AS c1"),
    (SYNTHETIC, "SELECT 'x' AS \"a column name longer than its values\", 7 AS \"also long-ish\""),
    (SYNTHETIC, "SELECT repeat('long value ', 40) AS v, 1 AS n"),
    (SYNTHETIC, "SELECT g AS n, -g * 1.5 AS neg, g::numeric / 3 AS frac, (g % 2 = 0) AS even, "
     "g * 1e20::float8 AS big FROM generate_series(-3, 9) g"),
    (SYNTHETIC, "SELECT interval '1 year 2 mons 3 days 04:05:06', date '2024-01-01', "
     "time '12:00', '2024-01-01 10:00'::timestamp, '192.168.0.1/24'::inet, "
     "'(1,2)'::point, int4range(1, 5), gen_random_uuid() IS NOT NULL AS has_uuid"),
    (SYNTHETIC, "SELECT 'a\"b,c' AS \"q,h\", E'\\\\.' AS dot, 'x;y' AS semi, '\"' AS quote"),
    (SYNTHETIC, "SELECT array[[1, 2], [3, 4]] AS matrix, '{\"a\": {\"b\": null}}'::json AS j, "
     "'happy'::mood AS m, row(1, 'x')::pair AS p, 26::oid, '12'::xid, '123'::xid8 AS x8"),
]

CASE_IDS = [f"{i:02d}-{db}" for i, (db, _) in enumerate(CASES)]

# mode -> (psql options, our Settings for the same)
MODES: dict[str, tuple[list[str], Settings]] = {
    "aligned": ([], Settings()),
    "tuples_only": (["-t"], Settings(tuples_only=True)),
    "footer_off": (["-P", "footer=off"], Settings(footer=False)),
    "expanded": (["-x"], Settings(expanded="on")),
    "expanded_tuples_only": (["-x", "-t"], Settings(expanded="on", tuples_only=True)),
    "expanded_footer_off": (["-x", "-P", "footer=off"], Settings(expanded="on", footer=False)),
    "csv": (["--csv"], Settings(format="csv")),
    "csv_tuples_only": (["--csv", "-t"], Settings(format="csv", tuples_only=True)),
    "unaligned": (["-A"], Settings(format="unaligned")),
    "unaligned_tuples_only": (["-A", "-t"], Settings(format="unaligned", tuples_only=True)),
    "unaligned_footer_off": (["-A", "-P", "footer=off"], Settings(format="unaligned", footer=False)),
    "border_0": (["-P", "border=0"], Settings(border=0)),
    "border_2_unicode": (["-P", "border=2", "-P", "linestyle=unicode"], Settings(border=2, linestyle="unicode")),
    "old_ascii_expanded": (["-x", "-P", "linestyle=old-ascii"], Settings(expanded="on", linestyle="old-ascii")),
    "html": (["-H"], Settings(format="html")),
    "html_expanded": (["-H", "-x"], Settings(format="html", expanded="on")),
    "null_and_title": (["-P", "null=<null>", "-P", "title=T"], Settings(null="<null>", title="T")),
    "wrapped_40": (["-P", "format=wrapped", "-P", "columns=40"], Settings(format="wrapped", columns=40)),
}


@pytest.fixture(scope="module")
def conninfos(pg_server: EmbeddedServer) -> Iterator[dict[str, str]]:
    """Conninfo per database: the benchmark ones plus one holding the synthetic tables."""
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {SYNTHETIC} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {SYNTHETIC}")
    with psycopg.connect(pg_server.conninfo(SYNTHETIC), autocommit=True) as conn:
        conn.execute(SYNTHETIC_SETUP)
    dbs = {db for db, _ in CASES} - {SYNTHETIC}
    loaded = {db: load_defog_db(pg_server, db) for db in dbs}
    yield loaded | {SYNTHETIC: pg_server.conninfo(SYNTHETIC)}
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {SYNTHETIC} WITH (FORCE)")


def psql(conninfo: str, sql: str, *options: str) -> str:
    """What psql prints for ``sql``: no psqlrc, no pager, a UTF-8 locale."""
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PAGER": ""}
    env.pop("PGCLIENTENCODING", None)
    done = subprocess.run(
        [PSQL, "-X", "-P", "pager=off", *options, "-c", sql, conninfo],
        env=env, capture_output=True, check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def fetch(conninfo: str, sql: str) -> tuple[list[str], list[bool], list[tuple]]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        fmt.text_loading(conn)
        cur = conn.execute(sql)
        return *fmt.describe(cur), cur.fetchall()


@pytest.mark.parametrize(("db", "sql"), CASES, ids=CASE_IDS)
def test_every_mode_is_byte_identical_to_psql(conninfos: dict[str, str], db: str, sql: str) -> None:
    columns, numeric, rows = fetch(conninfos[db], sql)
    for mode, (options, settings) in MODES.items():
        ours = fmt.render(columns, numeric, rows, settings, output_columns=settings.columns)
        assert ours == psql(conninfos[db], sql, *options), mode


STREAMED = (
    "SELECT g AS n, repeat('ab', g % 7) AS word, CASE WHEN g = 5 THEN E'x\\ny' END AS note "
    "FROM generate_series(1, 12) g"
)


def _stream_renderers(columns: list[str], numeric: list[bool]) -> dict[str, fmt.Render]:
    settings = {"aligned": Settings(), "-t": Settings(tuples_only=True), "-x": Settings(expanded="on"), "-A": Settings(format="unaligned"), "--csv": Settings(format="csv")}
    return {
        option: lambda r, s, e, p, chosen=chosen: fmt.render(columns, numeric, r, chosen, start=s, stop=e, prior_rows=p)
        for option, chosen in settings.items()
    }


@pytest.mark.parametrize("fetch_count", [1, 4, 5, 100])
def test_batches_match_psql_fetch_count(conninfos: dict[str, str], fetch_count: int) -> None:
    """Each batch on its own widths, header once, ``(12 rows)`` once, as psql's FETCH_COUNT."""
    conninfo = conninfos[SYNTHETIC]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        fmt.text_loading(conn)
        for option in ("aligned", "-t", "-x", "-A", "--csv"):
            cur = conn.execute(STREAMED)
            render = _stream_renderers(*fmt.describe(cur))[option]
            ours = "".join(fmt.stream(render, cur.fetchmany, fetch_count))
            options = [f"--variable=FETCH_COUNT={fetch_count}"]
            options += [] if option == "aligned" else [option]
            assert ours == psql(conninfo, STREAMED, *options), option


@pytest.mark.parametrize("terminal_width", [10, 28, 29, 30, 200])
def test_expanded_auto_switches_where_psql_does(
    conninfos: dict[str, str], terminal_width: int
) -> None:
    sql = "SELECT 'abcdefghij' AS first, 12345 AS second, 'xyz' AS third"  # 29 columns wide
    conninfo = conninfos[SYNTHETIC]
    columns, numeric, rows = fetch(conninfo, sql)
    ours = fmt.render(columns, numeric, rows, Settings(expanded="auto"), output_columns=terminal_width)
    options = ["-P", "expanded=auto", "-P", f"columns={terminal_width}"]
    assert ours == psql(conninfo, sql, *options)


def test_single_column_never_goes_expanded() -> None:
    auto = Settings(expanded="auto")
    assert not fmt.render(["x"], [False], [("a" * 500,)], auto, output_columns=20).startswith("-[ RECORD")
    assert fmt.render(["x", "y"], [False, False], [("a" * 500, None)], auto, output_columns=20).startswith("-[ RECORD")
    assert not fmt.render(["x", "y"], [False, False], [("a" * 500, None)], auto).startswith("-[ RECORD")  # a pipe: width unknown


def test_zwj_emoji_sequence_is_as_wide_as_psql_counts_it() -> None:
    """psql 15 counts code points: a family emoji (3 people, 2 joiners) is 8 cells."""
    family = "\U0001F468\u200D\U0001F469\u200D\U0001F467"
    assert fmt.render(["f"], [False], [(family,)], Settings()).split("\n")[1] == "-" * 10


def test_values_load_as_the_servers_text(conninfos: dict[str, str]) -> None:
    """Not Decimal, bool, list or datetime: their str() is not what psql shows."""
    sql = ("SELECT 1.50::numeric, true, array[1, 2], '{\"a\":1}'::jsonb, "
           "'2024-01-02 03:04:05'::timestamp, 'happy'::mood, NULL::int")
    _, _, rows = fetch(conninfos[SYNTHETIC], sql)
    assert rows == [("1.50", "t", "{1,2}", '{"a": 1}', "2024-01-02 03:04:05", "happy", None)]


def test_numeric_types_are_right_aligned() -> None:
    assert all(map(fmt.is_numeric_oid, [20, 21, 23, 700, 701, 1700, 790, 26]))
    assert not any(map(fmt.is_numeric_oid, [25, 16, 1114, 3802, 1007]))
