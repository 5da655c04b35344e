"""psql with a local text-to-SQL model inside.

`ask(question, connection)` is the library API; importing this package stays cheap (the
model layer loads on the first call).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# bitsandbytes (imported with transformers and peft) tries on import to fetch a CPU kernel from
# the hub and warns when it cannot (offline, or an untrusted repository); its own kernel is
# used then, so the line before every finetune message or 4-bit load was noise.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

if TYPE_CHECKING:
    from nl2sql_shell.nl2sql.pipeline import Answer


def ask(question: str, connection: Any, **options: Any) -> Answer:
    """See `nl2sql_shell.api.ask`."""
    from nl2sql_shell.api import ask as _ask

    return _ask(question, connection, **options)
