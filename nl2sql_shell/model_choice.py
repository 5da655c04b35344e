"""Which model to load: the options every command shares, and how they become a ModelSpec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

BACKENDS = ("auto", "transformers", "llamacpp", "openai")  # llm.load.BACKEND_CHOICES, without importing the model layer


def model_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--model/--model-url/--adapter/--quantize/--device/--backend, identical for the shell, eval and bench."""
    options = [
        click.option("--model", help="Hub id, local folder or .gguf file (default: see README); with --model-url, the served model's name."),
        click.option(
            "--model-url",
            metavar="URL",
            help="Ask an OpenAI-compatible server instead (vLLM, SGLang, llama-server, Ollama), its base URL such as "
            "http://gpu-box:8000/v1; the API key is read from NL2SQL_SHELL_API_KEY or OPENAI_API_KEY.",
        ),
        click.option("--adapter", type=click.Path(), help="LoRA adapter folder (peft) to load on top."),
        click.option("--quantize", type=click.Choice(["4bit", "8bit", "none"]), help="bitsandbytes quantization."),
        click.option("--device", help="cpu, cuda or cuda:N (default: cuda when available)."),
        click.option(
            "--backend",
            type=click.Choice(BACKENDS),
            help="What runs the model (default: auto: openai with --model-url; llamacpp for a .gguf file when "
            "llama-cpp-python is installed and no --quantize or cuda --device is given (a LoRA --adapter is converted "
            "for it); else transformers).",
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
    model_url: str | None = None,
):
    """The explicit choices on top of the default model for this machine (imports the model layer).

    `backend` "auto" is resolved here to the one it stands for; callers that need the torch
    model itself (finetune) keep the default, transformers.
    """
    from nl2sql_shell.llm.defaults import default_model_spec
    from nl2sql_shell.llm.load import ModelSpec, choose_backend

    if model_url:  # the server has the model: nothing here to default to
        spec = ModelSpec(model=model or "", url=model_url)
    else:
        spec = ModelSpec(model=model) if model else default_model_spec()
    spec.adapter = adapter or spec.adapter
    spec.quantize = quantize or spec.quantize
    spec.device = device or spec.device
    spec.backend = backend
    spec.backend = choose_backend(spec)
    return spec
