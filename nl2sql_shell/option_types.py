"""Option types the command line needs beyond click's own, and its exit conventions."""

from __future__ import annotations

import math
from typing import Any

import click

INTERRUPTED_EXIT = 130  # the shell convention for "stopped by Ctrl-C" (eval, finetune)


class Finite(click.FloatRange):
    """click's FloatRange, NaN refused too (it passes every comparison, so every range)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number", param, ctx)
        return number
