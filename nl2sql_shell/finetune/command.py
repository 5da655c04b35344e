"""`nl2sql-shell finetune` (train a LoRA/QLoRA adapter) and `nl2sql-shell finetune merge`.

Only click is imported here: torch, transformers and peft load when a command runs, so
`nl2sql-shell --help` and the shell's start-up stay fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from nl2sql_shell.config import unsafe_output
from nl2sql_shell.option_types import INTERRUPTED_EXIT, Finite


def _modules(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    names = tuple(name.strip() for name in (value or "").split(",") if name.strip())
    return names or None


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["--help", "-?"]})
@click.option("--data", type=click.Path(exists=True, path_type=Path), help="JSONL of {question, context, answer} pairs (sql-create-context format), or a benchmark suite folder (eval's layout: questions.csv, idk.csv, dbs/) whose questions are shown as the shell shows them on its loaded databases.")
@click.option("--model", help="Base model: hub id, local folder or .gguf file (default: the shell's default model).")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), help="Folder for checkpoints, the adapter and its README.md.")
@click.option("--device", help="cpu, cuda or cuda:N (default: cuda when available).")
@click.option("--qlora", is_flag=True, help="Base in 4-bit nf4 with double quantization (bitsandbytes).")
@click.option("--epochs", type=Finite(min=0, min_open=True, max=1e6), default=1.0, show_default=True, help="Passes over the training pairs.")
@click.option("--max-steps", type=int, default=-1, help="Stop after N optimizer steps (overrides --epochs).")
@click.option("--lr", "learning_rate", type=Finite(min=0, min_open=True, max=1.0), default=1e-4, show_default=True, help="Peak learning rate (linear schedule, warm-up).")
@click.option("--rank", type=click.IntRange(min=1), default=16, show_default=True, help="LoRA rank r.")
@click.option("--alpha", type=click.IntRange(min=1), default=16, show_default=True, help="LoRA alpha.")
@click.option("--dropout", type=Finite(min=0, max=1, max_open=True), default=0.05, show_default=True, help="LoRA dropout.")
@click.option("--target-modules", callback=_modules, help="Comma-separated module names (default: every linear projection).")
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True, help="Pairs per device step.")
@click.option("--grad-accum", type=click.IntRange(min=1), default=4, show_default=True, help="Device steps per optimizer step.")
@click.option("--max-length", type=click.IntRange(min=16), default=1024, show_default=True, help="Longest prompt+answer in tokens; longer pairs are left out.")
@click.option("--eval-split", type=Finite(min=0, max=1, max_open=True), default=0.05, show_default=True, help="Fraction held out for eval loss and the final check.")
@click.option("--save-steps", type=click.IntRange(min=1), default=100, show_default=True, help="Checkpoint and eval loss every N optimizer steps.")
@click.option("--logging-steps", type=click.IntRange(min=1), default=10, show_default=True, help="Log the training loss every N optimizer steps.")
@click.option("--check-limit", type=click.IntRange(min=0), default=100, show_default=True, help="Held-out questions answered by generation after training.")
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint in --output.")
@click.option("--db", help="Conninfo of a database holding the data's tables, for held-out execution match.")
@click.option("--limit", type=click.IntRange(min=1), help="Use N pairs of --data, spread evenly over the file.")
@click.option("--refusals", type=Finite(min=0, max=1), default=0.0, show_default=True, help="Add this fraction of unanswerable pairs, answered with the refusal: a question with an unrelated schema, or a suite's idk.csv questions.")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed for the split, LoRA init and data order.")
@click.pass_context
def finetune(ctx: click.Context, data: Path | None, output: Path | None, **options) -> None:
    """Train a LoRA (or QLoRA) adapter for the shell: nl2sql-shell --adapter OUTPUT.

    The training prompt is the shell's own prompt, so the adapter learns what it will be asked.
    """
    if ctx.invoked_subcommand is not None:
        return
    if data is None or output is None:
        raise click.UsageError("finetune needs --data FILE.jsonl or SUITE_DIR and --output DIR (or a subcommand: merge)")
    if (why := unsafe_output(output, ("README.md",), make=False)) is not None:  # told now, not after the training
        raise click.ClickException(f"--output {output}: {why}")
    from nl2sql_shell.finetune.data import DataError
    from nl2sql_shell.finetune.train import FinetuneError, TrainConfig, train
    from nl2sql_shell.llm.load import ModelLoadError

    config = TrainConfig(data=data, output=output, **options)
    try:
        result = train(config, progress=_say)
    except (DataError, FinetuneError, ModelLoadError) as exc:
        from nl2sql_shell.db.cells import visible

        raise click.ClickException(visible(str(exc))) from None  # (a suite's dump may put escape sequences in it)
    if result.interrupted:
        _say(f"Stopped at step {result.global_step}; checkpoint saved in {result.checkpoint}. "
             "Continue with the same command plus --resume.")
        sys.exit(INTERRUPTED_EXIT)
    _say(f"Adapter written to {result.output} (load it with: nl2sql-shell --adapter {result.output})")


@finetune.command("merge", context_settings={"help_option_names": ["--help", "-?"]})
@click.option("--adapter", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True, help="Adapter folder from `finetune`.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder for the merged model.")
@click.option("--model", help="Base model (default: the one recorded in the adapter).")
@click.option("--device", help="cpu, cuda or cuda:N.")
def merge(adapter: Path, output: Path, model: str | None, device: str | None) -> None:
    """Fold an adapter into its base model and save a stand-alone model folder."""
    if not (adapter / "adapter_config.json").is_file():  # else peft takes the folder for a hub id and asks the hub for it
        raise click.ClickException(f"--adapter {adapter}: no adapter_config.json there (not an adapter folder that finetune wrote)")
    if (why := unsafe_output(output, (), make=False)) is not None:
        raise click.ClickException(f"--output {output}: {why}")
    from nl2sql_shell.finetune.merge import merge_adapter
    from nl2sql_shell.llm.load import ModelLoadError

    try:
        merge_adapter(adapter, output, model=model, device=device, progress=_say)
    except (ModelLoadError, ValueError) as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None


def _say(text: str) -> None:
    click.echo(text, err=True)
