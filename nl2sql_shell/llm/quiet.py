"""Nothing a loading model says may print over the prompt.

The shell loads the model in a background thread while the person types. Libraries warn on
stderr as they load (warnings.warn, the logging module's last-resort handler, transformers'
own handler, huggingface_hub's retries), which would draw over the line being edited. While
`quiet` is active their messages go to a callback instead: the shell shows the latest on its
status line.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterator

from nl2sql_shell.own_environment import set_default


class _ToCallback(logging.Handler):
    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        self.say(_one_line(record.getMessage()))


@contextlib.contextmanager
def quiet(say: Callable[[str], None]) -> Iterator[None]:
    """Route warnings and WARNING+ log records to ``say`` (one line each) for the duration."""
    handler = _ToCallback(say)
    root = logging.getLogger()
    root.addHandler(handler)
    transformers_logging = sys.modules.get("transformers.utils.logging")
    if transformers_logging is not None:
        transformers_logging.disable_default_handler()
    else:  # imported during the load: its own stderr handler then keeps to errors
        set_default("TRANSFORMERS_VERBOSITY", "error")
    original_showwarning = warnings.showwarning
    warnings.showwarning = lambda message, *_args, **_kwargs: say(_one_line(str(message)))
    try:
        yield
    finally:
        warnings.showwarning = original_showwarning
        root.removeHandler(handler)
        transformers_logging = sys.modules.get("transformers.utils.logging")
        if transformers_logging is not None:
            transformers_logging.enable_default_handler()


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""
