"""Where the upstream server stands with COPY FROM STDIN, as far as the proxy must know.

The proxy counts the ReadyForQuery messages the server owes, and a COPY bends that count:
the server ignores every Sync that arrives while it waits for COPY data (an Execute's
batch, pipelined ahead), and a client may send its CopyDone or CopyFail before the server
has even announced the COPY. While the server waits for data, a message the proxy holds
for a question is the server's to refuse (it ends the connection, as it would directly).
"""

from __future__ import annotations


class CopyTracker:
    """COPY FROM STDIN, from the messages both sides send (the proxy's own bridge excepted)."""

    def __init__(self) -> None:
        self.waiting = False  # the server waits for the client's COPY data
        self.by_execute = False  # the last statement that may start a COPY came in an Execute
        self._pending = False  # a Query or Execute was sent that may yet start a COPY (a Query, one per statement)
        self._syncs_behind = 0  # Syncs sent behind that statement: ignored if it starts one
        self._ended_ahead = 0  # CopyDone/CopyFail sent before the server announced their COPY
        self.data_sent = False  # COPY data went to the server since the statement: it may have failed on it

    @property
    def expecting_end(self) -> bool:
        """A CopyDone or CopyFail sent now ends a COPY, running or announced later."""
        return self.waiting or self._pending

    # -- what the client sends ----------------------------------------------------------------------
    def statement_sent(self, by_execute: bool) -> None:
        """A Query or an Execute: either may start a COPY."""
        self._syncs_behind, self._pending, self.by_execute, self.data_sent = 0, True, by_execute, False

    def data(self) -> None:
        """CopyData (or another message the proxy passes unread) on its way to the server."""
        self.data_sent = self.data_sent or self.expecting_end

    def sync_sent(self) -> bool:
        """A Sync; False when the server ignores it (it waits for COPY data)."""
        if self._pending:
            self._syncs_behind += 1
        return not self.waiting

    def end_sent(self) -> None:
        """A CopyDone or CopyFail: a Query's next statement may start another COPY."""
        if not self.waiting and self._pending:
            self._ended_ahead += 1
        self._pending = self._pending and not self.by_execute
        self.waiting = False

    # -- what the server says -----------------------------------------------------------------------
    def announced(self) -> int:
        """A CopyInResponse or CopyBothResponse (CopyOut ends by itself): the Syncs sent
        behind its statement, which the server ignores (libpq sends another after CopyDone,
        which is answered)."""
        ignored, self._syncs_behind = self._syncs_behind, 0
        if self._ended_ahead:  # the client's CopyDone or CopyFail is on its way
            self._ended_ahead -= 1
        elif self._pending:
            self.waiting = True
        self._pending = not self.by_execute
        return ignored

    def failed(self) -> None:
        """An ErrorResponse: a statement that may have started a COPY failed before it, and
        the COPY data sent ahead for it is dropped with it; or the COPY itself failed (bad
        data), and the server waits for data no more."""
        if self._pending and not self.waiting:
            self._ended_ahead = 0
        self.waiting = False

    def ready(self, all_answered: bool) -> None:
        """A ReadyForQuery; with nothing more owed, no COPY can start now."""
        self.waiting = False
        if all_answered:
            self._pending, self._ended_ahead = False, 0
