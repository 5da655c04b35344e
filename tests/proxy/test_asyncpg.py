"""A second real client library through the proxy: asyncpg, which sends every query with
parameters through its own Parse/Describe/Flush, Bind/Execute/Sync and reads binary rows."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from scripted import Scripted

from nl2sql_shell.nl2sql.pipeline import Asker

asyncpg = pytest.importorskip("asyncpg")

TOP = "SELECT name, revenue FROM customers ORDER BY revenue DESC LIMIT 2"


@pytest.fixture
def db(fresh_db: str) -> str:
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, name text, revenue numeric)")
        conn.execute("INSERT INTO customers VALUES (1, 'Ada', 300), (2, 'Bo', 100), (3, 'Cy', 200)")
    return fresh_db


def test_asyncpg_through_the_proxy(db, start_proxy):
    proxy = start_proxy(Asker(Scripted([TOP])))
    params = conninfo_to_dict(db)

    async def session() -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=proxy.port, user=params["user"], database=params["dbname"], password=proxy.password, ssl=False)
        try:
            assert await conn.fetchval("SELECT 40 + 2") == 42
            statement = await conn.prepare("SELECT name FROM customers WHERE revenue > $1 ORDER BY id")
            assert [r["name"] for r in await statement.fetch(150)] == ["Ada", "Cy"]
            assert [r["name"] for r in await statement.fetch(250)] == ["Ada"]
            async with conn.transaction():
                await conn.execute("INSERT INTO customers VALUES ($1, $2, $3)", 4, "Di", Decimal(50))
            assert await conn.fetchval("SELECT count(*) FROM customers") == 4

            row = await conn.fetchrow("SELECT nl2sql('top 2 customers by revenue')")
            assert row["sql"].startswith("SELECT") and row["tables"] == "public.customers" and row["proven"] is True
            rows = await conn.fetch("?run")  # extended protocol, binary rows: runs at the Execute
            assert [(r["name"], r["revenue"]) for r in rows] == [("Ada", Decimal(300)), ("Cy", Decimal(200))]
            with pytest.raises(asyncpg.ObjectNotInPrerequisiteStateError, match="no proposal"):
                await conn.fetch("?run")  # once only (asyncpg's cached statement is re-prepared)

            await conn.execute("? top 2 customers by revenue")  # the simple protocol
            assert [r["name"] for r in await conn.fetch("SELECT nl2sql_run()")] == ["Ada", "Cy"]
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()

    asyncio.run(session())
