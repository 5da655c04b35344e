"""`nl2sql-shell bench --proxy` measures psql directly and through the proxy in one run."""

from __future__ import annotations

import psycopg

from nl2sql_shell.bench.proxy import TABLE, measure, report


def test_bench_proxy_small(fresh_db):
    workloads = measure(fresh_db, rows=1000, copy_rows=100, repeats=1, psql="/usr/bin/psql")
    assert len(workloads) == 4 and all(len(w.direct) == len(w.proxied) == 1 and w.ratio > 0 for w in workloads)
    text = report(workloads)
    assert "COPY FROM STDIN, 100 rows" in text and text.count("x\n") == 4
    with psycopg.connect(fresh_db) as conn:  # its table is gone
        assert conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone() == (None,)
