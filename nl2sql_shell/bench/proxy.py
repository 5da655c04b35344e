"""`nl2sql-shell bench --proxy`: what the proxy costs a client, as ratios taken in one run.

The same psql commands run directly against the server and through a proxy (started in this
process, with no model: pass-through only), alternating direct and proxied runs so that both
see the same machine, and the median of each is compared:

- ``psql -c 'select 1'``: a whole connection (startup, SCRAM, one query, exit);
- a result of N rows (default 2M) written to /dev/null;
- ``COPY ... TO STDOUT`` of N rows, and ``COPY ... FROM STDIN`` of N rows into a table.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

# COPY FROM's table, in a schema of the bench's own made for the run: in a schema another role
# owns (public is the database owner's), that role may drop the table and put one of its own
# with triggers in its place, which the bench's COPY would then run as the bench's user.
SCHEMA_PREFIX = "nl2sql_bench_"
TABLE = "proxy_copy"


@dataclass
class Workload:
    name: str
    args: list[str]
    stdin: str | None = None  # a file fed to psql
    before: Callable[[], None] | None = None  # untimed, before each run (e.g. empty the table)
    direct: list[float] = field(default_factory=list)
    proxied: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return statistics.median(self.proxied) / statistics.median(self.direct)


class _ProxyThread:
    """A pass-through proxy on its own event loop, in a thread of this process."""

    def __init__(self, conninfo: str) -> None:
        from nl2sql_shell.proxy.auth import Upstream
        from nl2sql_shell.proxy.server import Proxy

        def no_model():
            raise RuntimeError("bench: pass-through only")

        self.proxy = Proxy(Upstream.from_conninfo(conninfo), no_model, listen=("127.0.0.1", 0))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-proxy", daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self.loop).result(10)

    def via(self, conninfo: str) -> str:
        return make_conninfo(conninfo, host="127.0.0.1", port=self.proxy.port)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _psql(psql: str, conninfo: str, workload: Workload, env: dict[str, str] | None = None) -> float:
    if workload.before is not None:
        workload.before()
    stdin = open(workload.stdin, "rb") if workload.stdin else subprocess.DEVNULL  # noqa: SIM115
    try:
        started = time.perf_counter()
        subprocess.run([psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", conninfo, *workload.args], stdin=stdin, stdout=subprocess.DEVNULL, check=True, env=env)
        return time.perf_counter() - started
    finally:
        if workload.stdin:
            stdin.close()


def measure(
    conninfo: str, *, rows: int = 2_000_000, copy_rows: int = 1_000_000, repeats: int = 5, psql: str = "psql", password: str | None = None, progress: Callable[[str], None] = lambda _: None
) -> list[Workload]:
    """Each workload ``repeats`` times directly and through the proxy, alternating.
    ``password``: for TCP (the embedded server's password file serves its socket alone),
    handed to psql in its environment, never on a command line others can read."""
    psql = shutil.which(psql) or psql
    env = {**os.environ, "PGPASSWORD": password} if password else None
    if password:  # (make_conninfo leaves a key given None as it was)
        conninfo = make_conninfo(**{key: value for key, value in conninfo_to_dict(conninfo).items() if key not in ("password", "passfile")})
    if conninfo_to_dict(conninfo).get("host", "").startswith("/"):
        # A unix socket direct against TCP through the proxy would not be the same road.
        conninfo = make_conninfo(conninfo, host="127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="nl2sql-bench-proxy-") as folder:
        data = os.path.join(folder, "copy.tsv")
        with open(data, "w") as out:
            out.writelines(f"{i}\trow number {i}\t{i * 0.5}\n" for i in range(copy_rows))
        table = f"{SCHEMA_PREFIX}{secrets.token_hex(4)}.{TABLE}"
        with psycopg.connect(conninfo, autocommit=True, password=password) as conn:
            conn.execute(f"CREATE SCHEMA {table.split('.')[0]}")
            conn.execute(f"CREATE TABLE {table} (id int, note text, amount numeric)")

        def empty() -> None:
            with psycopg.connect(conninfo, autocommit=True, password=password) as conn:
                conn.execute(f"TRUNCATE {table}")

        workloads = [
            Workload("psql -c 'select 1' (connect, auth, query)", ["-c", "select 1"]),
            Workload(f"{rows:,} rows to /dev/null", ["-c", f"SELECT g, 'row number ' OPERATOR(pg_catalog.||) g::pg_catalog.text, g OPERATOR(pg_catalog.*) 0.5 FROM pg_catalog.generate_series(1, {rows}) g"]),
            Workload(f"COPY TO STDOUT, {copy_rows:,} rows", ["-c", f"COPY (SELECT g, 'row number ' OPERATOR(pg_catalog.||) g::pg_catalog.text, g OPERATOR(pg_catalog.*) 0.5 FROM pg_catalog.generate_series(1, {copy_rows}) g) TO STDOUT"]),
            Workload(f"COPY FROM STDIN, {copy_rows:,} rows", ["-c", f"COPY {table} FROM STDIN"], stdin=data, before=empty),
        ]
        proxy = _ProxyThread(conninfo)
        try:
            through = proxy.via(conninfo)
            for workload in workloads:
                progress(workload.name)
                _psql(psql, conninfo, workload, env)  # warm both paths once, untimed
                _psql(psql, through, workload, env)
                for i in range(repeats):
                    first, second = (conninfo, through) if i % 2 == 0 else (through, conninfo)
                    for target in (first, second):
                        (workload.direct if target is conninfo else workload.proxied).append(_psql(psql, target, workload, env))
        finally:
            proxy.stop()
            with psycopg.connect(conninfo, autocommit=True, password=password) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {table.split('.')[0]} CASCADE")
    return workloads


def report(workloads: list[Workload]) -> str:
    width = max(len(w.name) for w in workloads)
    lines = [f"{'workload'.ljust(width)}  direct (median)  proxied (median)  ratio"]
    for w in workloads:
        lines.append(f"{w.name.ljust(width)}  {statistics.median(w.direct) * 1000:12.1f} ms  {statistics.median(w.proxied) * 1000:13.1f} ms  {w.ratio:5.2f}x")
    return "\n".join(lines) + "\n"
