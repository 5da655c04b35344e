"""The embedded server as a shell holds it for a whole session. A server that dies under the
shell (killed, out of memory) is started again when the shell reconnects: nobody else would
start it, and psql's reset alone would only knock at its old port, leaving the shell
unconnected (and its hold keeping a server another shell started unreachable to it)."""

from __future__ import annotations

import dataclasses

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from nl2sql_shell.db import connect as db_connect
from nl2sql_shell.db import embedded


class EmbeddedSession:
    """The server this shell holds now (started, or attached to, by ``embedded.start``)."""

    def __init__(self, server: embedded.EmbeddedServer) -> None:
        self.server = server

    def stop(self) -> None:
        """The shell is done with it (see ``EmbeddedServer.stop``)."""
        self.server.stop()

    def revive(self, target: db_connect.Target) -> db_connect.Target | None:
        """``target``'s database and user on this folder's server as it runs now, started
        again if no one has (a new port); None when ``target`` is not this server's (a `\\c`
        to another one). A server that still runs where it did is left alone and ``target``
        returned as it was: the reset failed for another reason (a database dropped), which
        psql reports and the server outlives (it was stopped, and every other client's
        session with it). Raises EmbeddedServerError when it cannot start."""
        if conninfo_to_dict(target.conninfo).get("host") != str(self.server.data_dir):
            return None
        if embedded.running_port(self.server.data_dir) == self.server.port and embedded.started(self.server, timeout=30):
            return target  # it runs (after a crash, once it has recovered): connected to again, or psql's "Failed."
        server = embedded.start(self.server.data_dir)  # attached to, or started again: held before
        self.server.stop()  # this shell's hold on the server that died is let go
        self.server = server
        return dataclasses.replace(target, conninfo=make_conninfo(target.conninfo, port=str(server.port)))
