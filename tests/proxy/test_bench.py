"""`nl2sql-shell bench --proxy` measures psql directly and through the proxy in one run."""

from __future__ import annotations

import psycopg

from nl2sql_shell.bench.proxy import SCHEMA_PREFIX, TABLE, measure, report
from nl2sql_shell.db import embedded


def test_bench_proxy_small(fresh_db, pg_server):
    owners: list[tuple] = []

    def progress(name: str) -> None:  # while it runs, COPY's table is in a schema of the bench's own
        with psycopg.connect(fresh_db) as conn:
            owners.extend(conn.execute(
                "SELECT n.nspowner = c.relowner AND pg_get_userbyid(c.relowner) = current_user FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relname = %s AND n.nspname LIKE %s", (TABLE, SCHEMA_PREFIX + "%")
            ).fetchall())

    password = embedded.read_password(pg_server.data_dir)  # (over TCP: the password file serves the socket alone)
    workloads = measure(fresh_db, rows=1000, copy_rows=100, repeats=1, psql="/usr/bin/psql", password=password, progress=progress)
    assert owners == [(True,)] * 4
    assert len(workloads) == 4 and all(len(w.direct) == len(w.proxied) == 1 and w.ratio > 0 for w in workloads)
    text = report(workloads)
    assert "COPY FROM STDIN, 100 rows" in text and text.count("x\n") == 4
    with psycopg.connect(fresh_db) as conn:  # its schema and table are gone
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE %s", (SCHEMA_PREFIX + "%",)).fetchone() == (0,)
