"""`nl2sql-shell eval SUITE_DIR`: execution accuracy of the `?` pipeline on a benchmark suite."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import click

from nl2sql_shell.config import rules_option, unsafe_output
from nl2sql_shell.option_types import INTERRUPTED_EXIT, Finite
from nl2sql_shell.model_choice import model_options
from nl2sql_shell.nl2sql import CHECK_VALUES, DEFAULT_CANDIDATES, GREEDY_FIRST, REFUSAL_DOUBT_LOGPROB, SCHEMA_BUDGET_TOKENS, WORDS_RETRY


@click.command(context_settings={"help_option_names": ["--help", "-?"]})
@click.argument("suite_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@model_options
@click.option("--candidates", type=click.IntRange(min=1), default=DEFAULT_CANDIDATES, show_default=True, help="Queries written per question (the greedy one first), voted on by their rows.")
@click.option("--more-candidates", type=click.IntRange(min=0), default=0, show_default=True, help="More queries sampled when the first ones leave the answer open (none passed, or no strict majority agrees); all are voted on.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N questions (and N idk questions).")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True, help="Only every Nth question (a spread-out sample).")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True, help="Where the --every sample starts: offsets 0 to N-1 together cover the suite.")
@click.option("--db", "dbs", multiple=True, help="Only this database's questions (repeatable).")
@click.option("--category", "categories", multiple=True, help="Only this category (repeatable).")
@click.option("--dsn", help="Server to load the databases into (default: the embedded one). Databases named after the suite's are dropped and re-created.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Write results.jsonl and summary.json here.")
@click.option("--prompt-style", "styles", default="default", show_default=True, help="default, or a baseline (tutorial: names only; raw: plain CREATE TABLE, every table), or several comma-separated (measured in one run).")
@click.option("--no-idk", is_flag=True, help="Skip the unanswerable questions of idk.csv.")
@click.option("--max-repairs", type=click.IntRange(min=0), default=2, show_default=True, help="Times an error is given back to the model.")
@click.option("--repair-samples", type=click.IntRange(min=1), default=4, show_default=True, help="Queries sampled (one batch, then voted on) in each repair round.")
@click.option("--readable-names", is_flag=True, help="Show prefixed and quoted camelCase names to the model in words, its query translated back (an experiment: not the shell's default).")
@click.option("--words-retry/--no-words-retry", default=WORDS_RETRY, show_default=True, help="When the greedy query fails the checks on a schema with prefixed or quoted camelCase names, write the greedy query on those names in words before the samples.")
@click.option("--greedy-first/--batch-first", default=GREEDY_FIRST, show_default=True, help="Write the greedy query alone first and the samples only when it fails the checks, or all the candidates in one batch.")
@click.option("--temperature", type=Finite(min=0, max=10), default=0.7, show_default=True, help="Sampling temperature of the candidates after the greedy one.")
@click.option("--schema-budget", type=click.IntRange(min=1), default=SCHEMA_BUDGET_TOKENS, show_default=True, help="Tokens of schema text the prompt may hold; a larger schema is linked down to the tables the question names.")
@click.option("--values", "find_values", is_flag=True, help="Look the question's quoted and capitalised phrases up in the tables shown and name the columns that hold them in the prompt (an experiment: not the shell's default).")
@click.option("--refusal-doubt", type=Finite(min=-1e9, max=0), default=REFUSAL_DOUBT_LOGPROB, show_default=True, help="Refuse a question with a word nothing in the database matches when the model gives its refusal at least this log-probability.")
@click.option("--no-refusal-doubt", "no_refusal_doubt", is_flag=True, help="Never refuse on the model's doubt (measure without it).")
@click.option("--check-values/--no-check-values", default=CHECK_VALUES, show_default=True, help="Ask the database whether a candidate's comparisons with text values match any row; one that matches none is not trusted alone.")
@click.option("--grammar", is_flag=True, help="Constrain decoding so that every name after a dot is one the prompt showed, on a backend that can (llama.cpp; an experiment: not the shell's default).")
@click.option("--refusal-votes", is_flag=True, help="Count the model's refusals as votes: more refusals than agreeing candidates make the answer a refusal (an experiment: not the shell's default).")
@rules_option
def eval_command(suite_dir: Path, model, model_url, adapter, quantize, device, backend, candidates, more_candidates, limit, every, offset, dbs, categories, dsn, out_dir, styles, no_idk, max_repairs, repair_samples, readable_names, words_retry, refusal_votes, greedy_first, temperature, schema_budget, find_values, refusal_doubt, no_refusal_doubt, check_values, grammar, rules) -> None:
    """Execution accuracy on a suite: SUITE_DIR holds questions.csv, idk.csv and dbs/DB.sql (defog's layout, as bench/unfamiliar)."""
    from dataclasses import replace

    import psycopg

    from nl2sql_shell.db.embedded import EmbeddedServerError
    from nl2sql_shell.eval.runner import ModelServerGone, ResultsFile, Runner, ServerBusy, SuiteRoleError, claim_server, report, suite_server, summarize, write_summary
    from nl2sql_shell.eval.scoring import GoldQueryError
    from nl2sql_shell.eval.suite import SuiteError, load_suite
    from nl2sql_shell.llm.load import ModelLoadError, load_model, measured_name
    from nl2sql_shell.model_choice import resolve_spec
    from nl2sql_shell.nl2sql.pipeline import Options
    from nl2sql_shell.nl2sql.rules import parse_rules

    if offset >= every:  # (it ran a part of another offset's questions, and no idk question)
        raise click.BadParameter(f"{offset} is not below --every {every}: offsets 0 to {every - 1} cover the suite", param_hint="--offset")
    style_list = list(dict.fromkeys(s.strip() for s in styles.split(",") if s.strip()))  # each measured once
    if not style_list:
        raise click.BadParameter("name at least one prompt style", param_hint="--prompt-style")
    for style in style_list:
        if style not in ("default", "tutorial", "raw"):
            raise click.BadParameter(f"unknown prompt style {style!r}", param_hint="--prompt-style")
    try:
        suite = load_suite(suite_dir)
    except SuiteError as exc:
        raise click.ClickException(str(exc)) from None
    if not suite.questions and (no_idk or not suite.idk):
        raise click.ClickException(f"{suite_dir}: the suite has no questions")
    sample = slice(offset, None, every)
    suite = replace(suite, questions=suite.questions[sample], idk=() if no_idk else suite.idk[sample])
    suite = suite.select(db=dbs or None, category=categories or None, limit=limit)
    if not suite.questions and not suite.idk:
        raise click.ClickException("no questions match these filters")
    if out_dir:  # told now, not after the model's load
        _check_writable(out_dir)
    rules_on = parse_rules(rules)  # no config file: a run is the same on every machine
    spec = resolve_spec(model, adapter, quantize, device, backend or "auto", model_url=model_url)
    progress = lambda text: click.echo(text, err=True)  # noqa: E731
    for ending in (signal.SIGTERM, signal.SIGHUP):  # (`timeout`, a service manager, a closed terminal): the role is closed on the way out
        signal.signal(ending, _terminated)
    try:
        server = suite_server(dsn)
    except (psycopg.Error, EmbeddedServerError) as exc:
        raise click.ClickException(f"{'--dsn' if dsn else 'the embedded server'}: {_first_line(exc)}") from None
    results = None
    claim = None
    try:
        try:
            claim = claim_server(server.admin)
        except ServerBusy as exc:
            raise click.ClickException(str(exc)) from None
        except psycopg.Error as exc:
            raise click.ClickException(_first_line(exc)) from None
        try:
            server = server.with_role()
        except (SuiteRoleError, psycopg.Error) as exc:
            raise click.ClickException(_first_line(exc)) from None
        if server.role is None:
            click.echo("eval: note: the suite runs with --dsn's own rights (its user is no superuser, and eval makes a role of its own only as one); answers not proven harmless are not run", err=True)
        runner = Runner(suite, None, server=server, options=Options(candidates=candidates, more_candidates=more_candidates, max_repairs=max_repairs, repair_samples=repair_samples, rules=rules_on, readable_names=readable_names, words_retry=words_retry, refusal_votes=refusal_votes, greedy_first=greedy_first, temperature=temperature, schema_budget_tokens=schema_budget, values=find_values, check_values=check_values, grammar=grammar, refusal_doubt=None if no_refusal_doubt else refusal_doubt))
        try:  # before the model's load: a broken dump is told in seconds
            runner.load_databases(progress)
        except (psycopg.Error, SuiteError) as exc:
            raise click.ClickException(f"loading the suite's databases: {_first_line(exc)}") from None
        try:
            runner.check_gold(progress)
        except GoldQueryError as exc:
            raise click.ClickException(f"the suite's gold query fails: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            raise click.ClickException(f"the suite's databases: {_first_line(exc)}") from None
        try:
            loaded = runner.model = load_model(spec, progress=progress)
        except ModelLoadError as exc:
            raise click.ClickException(str(exc)) from None
        results = ResultsFile(out_dir) if out_dir else None  # the last run's results kept until this one starts
        summaries = []
        total = len(suite.questions) + len(suite.idk)
        interrupted = False
        for style in style_list:
            done: list = []  # this style's records so far: a Ctrl-C reports them
            with click.progressbar(length=total, label=f"{style:>8}", file=sys.stderr, show_pos=True) as bar:
                def step(record, bar=bar, done=done) -> None:
                    done.append(record)
                    bar.update(1)
                    if results:
                        results.write(record)

                try:
                    runner.run(style, step)
                except KeyboardInterrupt:
                    interrupted = True
                except psycopg.Error as exc:  # the server, or the suite's role, went away
                    raise click.ClickException(f"the suite's databases: {_first_line(exc)}") from None
                except ModelServerGone as exc:  # (the questions answered before it are in --out's results.jsonl)
                    raise click.ClickException(f"the run stops: the model server failed three questions in a row ({exc})") from None
                except PermissionError as exc:  # a link planted in --out since the start
                    raise click.ClickException(f"--out {out_dir}: {exc.strerror}: {exc.filename}") from None
            summaries.append(summarize(style, done))
            if interrupted:
                click.echo(f"eval: interrupted after {len(done)} of {total} questions of prompt style {style}: the figures below are of those", err=True)
                break
        report(summaries, loaded.load_seconds)
        if out_dir:
            meta = {
                "suite": str(suite_dir),
                "model": measured_name(spec, loaded),
                "adapter": spec.adapter,
                "quantize": spec.quantize,
                "backend": spec.backend,
                "device": str(loaded.device),
                "every": every,
                "offset": offset,
                "limit": limit,
                "db": list(dbs),
                "category": list(categories),
                "no_idk": no_idk,
                "candidates": candidates,
                "more_candidates": more_candidates,
                "max_repairs": max_repairs,
                "repair_samples": repair_samples,
                "rules": sorted(rules_on),
                "readable_names": readable_names,
                "words_retry": words_retry,
                "refusal_votes": refusal_votes,
                "greedy_first": greedy_first,
                "grammar": grammar and loaded.grammar,
                "temperature": temperature,
                "schema_budget": schema_budget,
                "values": find_values,
                "check_values": check_values,
                "refusal_doubt": None if no_refusal_doubt else refusal_doubt,
                "load_seconds": loaded.load_seconds,
                "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                "questions": len(suite.questions),
                "idk_questions": len(suite.idk),
                "interrupted": interrupted,
            }
            summary_path = write_summary(out_dir, summaries, meta)
            click.echo(f"wrote {results.path if results.path.exists() else 'no results'} and {summary_path}", err=True)
        if interrupted:
            sys.exit(INTERRUPTED_EXIT)
    except KeyboardInterrupt:  # (loading the databases or the model): nothing measured yet
        click.echo("eval: interrupted before any question was asked", err=True)
        sys.exit(INTERRUPTED_EXIT)
    finally:
        if claim is not None:
            claim.close()
        if results:
            results.close()
        server.stop()


def _check_writable(out_dir: Path) -> None:
    """--out is a folder this run can write results.jsonl and summary.json into, and neither
    it nor they are another user's (in /tmp: a link to a folder of this user's files, or a
    file they read back)."""
    if (why := unsafe_output(out_dir, ("results.jsonl", "summary.json"))) is not None:
        raise click.ClickException(f"--out {out_dir}: {why}")


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _first_line(exc: BaseException) -> str:
    """The error's first line, safe on a terminal: a suite's dump or a server may put escape
    sequences in it (a window title, a cleared screen)."""
    from nl2sql_shell.db.cells import visible

    lines = str(exc).strip().splitlines()
    return visible(lines[0]) if lines else exc.__class__.__name__
