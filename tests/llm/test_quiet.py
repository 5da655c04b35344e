"""A model loading in the background never prints over the prompt: what it says goes to the
status line instead."""

from __future__ import annotations

import logging
import warnings

from nl2sql_shell.llm.quiet import quiet


def test_warnings_and_log_records_go_to_the_status_line_not_stderr(capfd):
    said: list[str] = []
    with quiet(said.append):
        warnings.warn("--quantize 4bit on CPU is slow\nsecond line", stacklevel=1)
        logging.getLogger("huggingface_hub.utils._http").warning("Retrying in 8s [Retry 5/5].")
        logging.getLogger("somewhere").info("not worth a line")
    assert said == ["--quantize 4bit on CPU is slow", "Retrying in 8s [Retry 5/5]."]
    assert capfd.readouterr().err == ""
    with warnings.catch_warnings(record=True) as after:  # afterwards, warnings are warnings again
        warnings.simplefilter("always")
        warnings.warn("later", stacklevel=1)
    assert [str(w.message) for w in after] == ["later"]
