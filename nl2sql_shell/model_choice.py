"""Which model to load: the options every command shares, and how they become a ModelSpec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def model_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--model/--adapter/--quantize/--device, identical for the shell, eval, bench and finetune."""
    options = [
        click.option("--model", help="Hub id, local folder or .gguf file (default: see README)."),
        click.option("--adapter", type=click.Path(), help="LoRA adapter folder (peft) to load on top."),
        click.option("--quantize", type=click.Choice(["4bit", "8bit", "none"]), help="bitsandbytes quantization."),
        click.option("--device", help="cpu, cuda or cuda:N (default: cuda when available)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def resolve_spec(model: str | None = None, adapter: str | None = None, quantize: str | None = None, device: str | None = None):
    """The explicit choices on top of the default model for this machine (imports the model layer)."""
    from nl2sql_shell.llm.defaults import default_model_spec
    from nl2sql_shell.llm.load import ModelSpec

    spec = ModelSpec(model=model) if model else default_model_spec()
    spec.adapter = adapter or spec.adapter
    spec.quantize = quantize or spec.quantize
    spec.device = device or spec.device
    return spec
