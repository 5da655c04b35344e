"""Where `\\c` takes a password: psql's keep_password rule (db/connect.py, Target.with_database)."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from nl2sql_shell.db.connect import Target

HERE = make_conninfo(host="/tmp/a", port="5432", user="alice", dbname="one", password="Sekrit")


def test_a_password_goes_only_to_the_same_user_host_and_port():
    """It was offered to any server `\\c` named (`\\c - - evil.example`), given or typed."""
    target = Target(HERE, password="Typed")
    same = target.with_database("two")
    assert conninfo_to_dict(same.conninfo)["password"] == "Sekrit" and same.password == "Typed"
    assert target.with_database("two", "alice", "/tmp/a", "5432").password == "Typed"  # named again, unchanged
    moved = [
        target.with_database("-", "bob"),
        target.with_database("-", None, "evil.example"),
        target.with_database("-", None, None, "5433"),
        target.with_database("host=/tmp/a port=5432 user=alice dbname=two", reuse=True),  # psql: a string never keeps it
        target.with_database("two", current={"user": "alice", "host": "/tmp/b", "port": "5432"}),  # where the connection is now
    ]
    for other in moved[:4]:
        assert "password" not in conninfo_to_dict(other.conninfo) and other.password is None, other
    assert moved[4].password == "Typed"  # the host is not named: it stays the current one


def test_w_asks_again_at_every_connect_and_w_never_asks():
    assert Target(HERE, prompt_password=True, password="Typed").with_database("two").password is None  # -W
    assert Target(HERE, never_prompt=True).with_database("-", "bob").never_prompt  # -w
    assert Target(HERE, never_prompt=True).with_database("dbname=two").never_prompt


def test_the_connection_s_own_parameters_are_kept_not_the_text_it_came_from():
    """A host that came from PGHOST (changed by `\\setenv` since) or a service file: `\\c two`
    went where the environment pointed now, with this server's password."""
    target = Target("dbname=one password=Sekrit")
    live = {"host": "/tmp/a", "port": "5432", "user": "alice", "dbname": "one", "hostaddr": "127.0.0.1"}
    kept = conninfo_to_dict(target.with_database("two", live=live).conninfo)
    assert kept == {"host": "/tmp/a", "port": "5432", "user": "alice", "dbname": "two", "hostaddr": "127.0.0.1", "password": "Sekrit"}
    moved = conninfo_to_dict(target.with_database("two", None, "/tmp/b", live=live).conninfo)
    assert moved == {"host": "/tmp/b", "port": "5432", "user": "alice", "dbname": "two"}  # a host given: its old address and the password go
