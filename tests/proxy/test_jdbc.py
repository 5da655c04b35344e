"""pgjdbc (Debian's libpostgresql-jdbc-java), the driver of DBeaver and DataGrip, through the
proxy: SELECT nl2sql(...) and SELECT nl2sql_run() over the extended protocol. Skipped when
Java or the driver is not installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from scripted import Scripted

from nl2sql_shell.nl2sql.pipeline import Asker

JAR = Path("/usr/share/java/postgresql.jar")
SOURCE = Path(__file__).with_name("jdbc") / "ProxyJdbc.java"
TOP = "SELECT name, revenue FROM customers ORDER BY revenue DESC LIMIT 2"

pytestmark = pytest.mark.skipif(not (JAR.exists() and shutil.which("javac") and shutil.which("java")), reason="needs javac and /usr/share/java/postgresql.jar (apt-get install libpostgresql-jdbc-java)")


def _password(params: dict) -> str:
    """The embedded server's password, from its password file (host:port:db:user:password)."""
    for line in Path(params["passfile"]).read_text().splitlines():
        fields = line.split(":")
        if len(fields) == 5 and fields[3] in ("*", params["user"]):
            return fields[4]
    raise AssertionError("no password for the test's user")


def test_jdbc_through_the_proxy(fresh_db, start_proxy, tmp_path):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, name text, revenue numeric)")
        conn.execute("INSERT INTO customers VALUES (1, 'Ada', 300), (2, 'Bo', 100), (3, 'Cy', 200)")
    proxy = start_proxy(Asker(Scripted([TOP])))
    subprocess.run(["javac", "-d", str(tmp_path), str(SOURCE)], check=True, capture_output=True, timeout=120)
    params = conninfo_to_dict(fresh_db)
    url = f"jdbc:postgresql://127.0.0.1:{proxy.port}/{params['dbname']}?sslmode=disable"
    result = subprocess.run(["java", "-cp", f"{JAR}:{tmp_path}", "ProxyJdbc", url, params["user"], _password(params)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "sum 42",
        "rows Ada Cy",
        "proven true tables public.customers",
        "ran name,revenue: Ada=300 Cy=200",
        "again 55000",
        "fetched Ada Cy",
        "count 3",
    ]
