"""Which model to load: the options every command shares, and how they become a ModelSpec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

BACKENDS = ("auto", "transformers", "llamacpp")  # llm.load.BACKEND_CHOICES, without importing the model layer


def model_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--model/--adapter/--quantize/--device/--backend, identical for the shell, eval and bench."""
    options = [
        click.option("--model", help="Hub id, local folder or .gguf file (default: see README)."),
        click.option("--adapter", type=click.Path(), help="LoRA adapter folder (peft) to load on top."),
        click.option("--quantize", type=click.Choice(["4bit", "8bit", "none"]), help="bitsandbytes quantization."),
        click.option("--device", help="cpu, cuda or cuda:N (default: cuda when available)."),
        click.option(
            "--backend",
            type=click.Choice(BACKENDS),
            help="What runs the model (default: auto: llamacpp for a .gguf file when llama-cpp-python is installed "
            "and no --adapter, --quantize or cuda --device is given; else transformers).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def resolve_spec(
    model: str | None = None,
    adapter: str | None = None,
    quantize: str | None = None,
    device: str | None = None,
    backend: str = "transformers",
):
    """The explicit choices on top of the default model for this machine (imports the model layer).

    `backend` "auto" is resolved here to the one it stands for; callers that need the torch
    model itself (finetune) keep the default, transformers.
    """
    from nl2sql_shell.llm.defaults import default_model_spec
    from nl2sql_shell.llm.load import ModelSpec, choose_backend

    spec = ModelSpec(model=model) if model else default_model_spec()
    spec.adapter = adapter or spec.adapter
    spec.quantize = quantize or spec.quantize
    spec.device = device or spec.device
    spec.backend = backend
    spec.backend = choose_backend(spec)
    return spec
