"""psql with a local text-to-SQL model inside.

`ask(question, connection)` is the library API; importing this package stays cheap (the
model layer loads on the first call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from nl2sql_shell.nl2sql.pipeline import Answer


def ask(question: str, connection: Any, **options: Any) -> Answer:
    """See `nl2sql_shell.api.ask`."""
    from nl2sql_shell.api import ask as _ask

    return _ask(question, connection, **options)
