"""`nl2sql-shell bench`: how fast the model answers, measured in one run with ratios."""

from __future__ import annotations

import os
import sys

import click

from nl2sql_shell.model_choice import model_options


@click.command(context_settings={"help_option_names": ["--help", "-?"]})
@model_options
@click.option("--random-weights", "random_config", help="Build this architecture (a folder with config.json and a tokenizer, or a hub id) with random weights: speed does not depend on them.")
@click.option("--new-tokens", type=click.IntRange(min=1), default=32, show_default=True, help="Tokens generated per measurement.")
@click.option("--candidates", type=click.IntRange(min=1), default=4, show_default=True, help="N for batched versus sequential candidates.")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True, help="Repetitions of the repeated-question measurement.")
@click.option("--compare-quantization/--no-compare-quantization", default=None, help="Also measure bf16, 4-bit nf4 and 8-bit (default: on CUDA).")
@click.option(
    "--tutorial-baseline/--no-tutorial-baseline",
    default=None,
    help="Also time one answer with the tutorial's setup (text-generation pipeline, 8-bit, max_length=500, repetition_penalty=1.2) against ours (default: on CUDA).",
)
@click.option("--compare-backends", is_flag=True, help="Only time one question (n candidates, first and cached schema) on a .gguf model with transformers and with llama.cpp.")
@click.option(
    "--demo-questions",
    is_flag=True,
    help="Only time whole `?` answers to the fixed demo questions on the embedded demo database, each of --backends in its own process, in turns.",
)
@click.option("--backends", default="llamacpp,transformers", show_default=True, help="With --demo-questions: the backends to compare, comma-separated; NAME+batch writes all the candidates in one batch (no greedy query alone first), for example llamacpp,llamacpp+batch.")
@click.option("--limit", type=click.IntRange(min=1), help="With --demo-questions: only the first N questions.")
@click.option(
    "--proxy",
    "proxy_upstream",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[CONNINFO]",
    help="Only measure `nl2sql-shell proxy`'s pass-through overhead: the same psql commands directly and through the proxy, alternating, as ratios (--repeats runs each; the embedded server when no CONNINFO; no model).",
)
@click.option("--rows", type=click.IntRange(min=1), default=2_000_000, show_default=True, help="With --proxy: rows of the big result.")
@click.option("--copy-rows", type=click.IntRange(min=1), default=1_000_000, show_default=True, help="With --proxy: rows copied each way.")
def bench(
    model, model_url, adapter, quantize, device, backend, random_config, new_tokens, candidates, repeats, compare_quantization, tutorial_baseline, compare_backends,
    demo_questions, backends, limit, proxy_upstream, rows, copy_rows,
) -> None:
    """Model load time, time to first token, decode speed, schema cache, batched candidates;
    or, with --proxy, the proxy's overhead for psql."""
    if proxy_upstream is not None:
        _bench_proxy(proxy_upstream, rows, copy_rows, repeats)
        return
    from dataclasses import replace

    from nl2sql_shell.bench.speed import measure
    from nl2sql_shell.llm.load import ModelLoadError, load_model, measured_name
    from nl2sql_shell.model_choice import resolve_spec

    spec = resolve_spec(random_config or model, adapter, quantize, device, "transformers" if random_config else backend or "auto", model_url=model_url)
    spec.random_weights = bool(random_config)
    progress = lambda text: click.echo(f"  {text}", err=True)  # noqa: E731
    if demo_questions:
        _demo_questions(spec.model, [name.strip() for name in backends.split(",") if name.strip()], limit, progress)
        return
    if compare_backends:
        from nl2sql_shell.bench.backends import compare_backends as compare

        click.echo(f"model: {spec.model}, {candidates} candidates of up to {new_tokens} tokens")
        try:
            sys.stdout.write(compare(spec, new_tokens=new_tokens, candidates=candidates, repeats=repeats, progress=progress).text())
        except ModelLoadError as exc:
            raise click.ClickException(str(exc)) from None
        return
    try:
        loaded = load_model(spec, progress=progress)
    except ModelLoadError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"model: {measured_name(spec, loaded)}{' (random weights)' if spec.random_weights else ''} on {loaded.device}, quantize {spec.quantize}, backend {spec.backend}")
    from nl2sql_shell.llm.openai_backend import ModelServerError

    try:
        sys.stdout.write(measure(loaded, new_tokens=new_tokens, candidates=candidates, repeats=repeats, progress=progress).text())
    except ModelServerError as exc:  # a server that answers with something else than completions
        raise click.ClickException(str(exc).strip().splitlines()[0]) from None
    on_gpu = str(loaded.device).startswith("cuda")
    if tutorial_baseline if tutorial_baseline is not None else on_gpu:
        _compare_with_tutorial(loaded, spec, candidates, progress)
    if compare_quantization if compare_quantization is not None else on_gpu:
        del loaded
        for mode in ("none", "4bit", "8bit"):
            if mode == spec.quantize:
                continue
            click.echo(f"\nquantize {mode}:")
            other = load_model(replace(spec, quantize=mode), progress=progress)
            sys.stdout.write(measure(other, new_tokens=new_tokens, candidates=candidates, repeats=1, progress=progress).text())
            del other


def _compare_with_tutorial(loaded, spec, candidates: int, progress) -> None:
    """One whole answer to the bench question: ours, then the tutorial's setup, and the ratio."""
    from nl2sql_shell.bench.speed import QUESTION, faster
    from nl2sql_shell.bench.tutorial import MAX_LENGTH, REPETITION_PENALTY, time_our_answer, time_tutorial_setup

    progress("one answer: ours, then the tutorial's setup")
    ours = time_our_answer(loaded, QUESTION, candidates)
    tutorial = time_tutorial_setup(spec, QUESTION, progress)
    setup = f"text-generation pipeline, 8-bit, max_length={MAX_LENGTH}, repetition_penalty={REPETITION_PENALTY}"
    click.echo(f"\none answer, tutorial's setup ({setup}): {tutorial.seconds:.2f} s, {tutorial.new_tokens} tokens")
    click.echo(f"one answer, ours ({candidates} candidates, cached schema, stop strings): {ours.seconds:.2f} s, {ours.new_tokens} tokens "
               f"({faster(tutorial.seconds, ours.seconds)})")


def _demo_questions(model: str, backends: list[str], limit: int | None, progress) -> None:
    """The demo questions on the embedded demo database (started, and made, as the shell does)."""
    from nl2sql_shell.bench.demo_questions import BACKENDS, BATCH_FIRST, run_demo_questions
    from nl2sql_shell.db import embedded
    from nl2sql_shell.db.demo import DEMO_DBNAME, ensure_demo

    if unknown := [name for name in backends if name.removesuffix(BATCH_FIRST) not in BACKENDS]:
        raise click.BadParameter(f"{', '.join(unknown)}: use {' and/or '.join(BACKENDS)}, each with {BATCH_FIRST} or without", param_hint="--backends")
    progress("starting the embedded PostgreSQL and its demo database")
    server = embedded.start()
    try:
        ensure_demo(server.conninfo("postgres"), server.conninfo)
        click.echo(f"model: {model}, database {DEMO_DBNAME}, backends {', '.join(backends)}")
        sys.stdout.write(run_demo_questions(model, server.conninfo(DEMO_DBNAME), backends=backends, limit=limit, progress=progress).text())
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        server.stop()


def _bench_proxy(upstream: str, rows: int, copy_rows: int, repeats: int) -> None:
    import platform

    import psycopg

    from nl2sql_shell.bench.proxy import measure, report

    server = password = None
    if not upstream:
        from nl2sql_shell.db import embedded

        server = embedded.start()
        upstream, password = server.conninfo("postgres"), embedded.read_password(server.data_dir)
    try:
        click.echo(f"proxy overhead: psql directly and through the proxy, {repeats} runs each, alternating; {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
        try:
            workloads = measure(upstream, rows=rows, copy_rows=copy_rows, repeats=repeats, password=password, progress=lambda text: click.echo(f"  {text}", err=True))
        except psycopg.Error as exc:
            raise click.ClickException(f"the upstream server: {str(exc).strip().splitlines()[0]}") from None
        sys.stdout.write(report(workloads))
    finally:
        if server is not None:
            server.stop()
