"""`nl2sql-shell bench`: how fast the model answers, measured in one run with ratios."""

from __future__ import annotations

import sys

import click

from nl2sql_shell.model_choice import model_options


@click.command(context_settings={"help_option_names": ["--help", "-?"]})
@model_options
@click.option("--random-weights", "random_config", help="Build this architecture (a folder with config.json and a tokenizer, or a hub id) with random weights: speed does not depend on them.")
@click.option("--new-tokens", type=int, default=32, show_default=True, help="Tokens generated per measurement.")
@click.option("--candidates", type=int, default=4, show_default=True, help="N for batched versus sequential candidates.")
@click.option("--repeats", type=int, default=3, show_default=True, help="Repetitions of the repeated-question measurement.")
@click.option("--compare-quantization/--no-compare-quantization", default=None, help="Also measure bf16, 4-bit nf4 and 8-bit (default: on CUDA).")
def bench(model, adapter, quantize, device, random_config, new_tokens, candidates, repeats, compare_quantization) -> None:
    """Model load time, time to first token, decode speed, schema cache, batched candidates."""
    from dataclasses import replace

    from nl2sql_shell.bench.speed import measure
    from nl2sql_shell.llm.load import ModelLoadError, load_model
    from nl2sql_shell.model_choice import resolve_spec

    spec = resolve_spec(random_config or model, adapter, quantize, device)
    spec.random_weights = bool(random_config)
    progress = lambda text: click.echo(f"  {text}", err=True)  # noqa: E731
    try:
        loaded = load_model(spec, progress=progress)
    except ModelLoadError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"model: {spec.model}{' (random weights)' if spec.random_weights else ''} on {loaded.device}, quantize {spec.quantize}")
    sys.stdout.write(measure(loaded, new_tokens=new_tokens, candidates=candidates, repeats=repeats, progress=progress).text())
    on_gpu = str(loaded.device).startswith("cuda")
    if compare_quantization if compare_quantization is not None else on_gpu:
        del loaded
        for mode in ("none", "4bit", "8bit"):
            if mode == spec.quantize:
                continue
            click.echo(f"\nquantize {mode}:")
            other = load_model(replace(spec, quantize=mode), progress=progress)
            sys.stdout.write(measure(other, new_tokens=new_tokens, candidates=candidates, repeats=1, progress=progress).text())
            del other
