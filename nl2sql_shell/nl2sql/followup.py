"""What the REPL and the proxy share about a conversation of questions.

``FOLLOW_UP`` tells a question that continues the previous one ("now only those in 2024"),
which then gets the last question and its SQL as history; ``READ_TIMEOUT_MS`` is the
statement timeout of a confirmed read (the REPL's Enter, the proxy's ``?run``).
"""

from __future__ import annotations

import re

FOLLOW_UP = re.compile(r"^(now|and|also|only|but|same|instead|what about|how about|then|just|exclude|include|sort|order|group|limit|show only)\b|\b(those|these|them|that|it|previous|above)\b", re.IGNORECASE)
READ_TIMEOUT_MS = 30_000
