"""The library entry point: `ask(question, connection) -> Answer`, with the model loaded once."""

from __future__ import annotations

import threading

import psycopg

from nl2sql_shell.nl2sql.pipeline import Answer, Asker, Options

_lock = threading.Lock()
_askers: dict[tuple, Asker] = {}


def ask(
    question: str,
    connection: psycopg.Connection,
    *,
    model: str | None = None,
    adapter: str | None = None,
    quantize: str | None = None,
    device: str | None = None,
    backend: str = "auto",
    model_url: str | None = None,
    hint: str | None = None,
    options: Options | None = None,
) -> Answer:
    """Answer a question with SQL for this connection's database; the SQL is not run.

    The first call loads the model (the default for this machine unless `model` says
    otherwise; a served one with `model_url`, the backends as the shell's `--backend`) and
    keeps it, with its schema and attention caches, for later calls. The answer says whether
    its SQL is proven harmless (`answer.proven`); run anything else only after reading it.
    """
    key = (model, adapter, quantize, device, backend, model_url)
    with _lock:
        asker = _askers.get(key)
        if asker is None:
            from nl2sql_shell.llm.load import load_model
            from nl2sql_shell.model_choice import resolve_spec

            spec = resolve_spec(model, adapter, quantize, device, backend, model_url=model_url)
            asker = _askers[key] = Asker(load_model(spec), options)
    return asker.ask(question, connection, hint=hint)
