"""`nl2sql-shell proxy`: serve `?` questions to any PostgreSQL client."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
from collections.abc import Callable

import click
import psycopg
from psycopg.conninfo import conninfo_to_dict

from nl2sql_shell.model_choice import model_options
from nl2sql_shell.nl2sql import DEFAULT_CANDIDATES


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``:PORT`` (loopback)."""
    host, sep, port = value.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or int(port) > 65535:  # (a bigger port was a traceback from bind)
        raise click.BadParameter(f"expected HOST:PORT with a port from 0 to 65535, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


@click.command(context_settings={"help_option_names": ["--help", "-?"]})
@click.argument("upstream", required=False)
@click.option("--listen", default="127.0.0.1:6432", show_default=True, help="Address to serve clients on; other hosts are refused unless it is one they can reach (e.g. 0.0.0.0:6432).")
@model_options
@click.option("--candidates", type=click.IntRange(min=1), default=None, help=f"Queries written per question, voted on by their rows.  [default: {DEFAULT_CANDIDATES}]")
def proxy(upstream, listen, model, model_url, adapter, quantize, device, backend, candidates) -> None:
    """A PostgreSQL proxy in front of UPSTREAM (a URI or conninfo; the embedded demo server
    when none): everything passes through, and `? QUESTION` or `SELECT nl2sql('QUESTION')`
    is answered with the model's SQL, which `?run` (or `?run yes`) runs."""
    from nl2sql_shell.config import enabled_rules, load_config, model_settings
    from nl2sql_shell.proxy.auth import Upstream, UpstreamError
    from nl2sql_shell.proxy.server import Proxy

    config = load_config()  # the shell's file: the same model and settings
    flags = {"model": model, "model_url": model_url, "adapter": adapter, "quantize": quantize, "device": device, "backend": backend, "candidates": candidates}
    settings = model_settings(config, **flags)
    try:
        rules = enabled_rules(None, config)
    except ValueError as exc:  # a name in the config's `rules` that no rule has
        raise click.ClickException(str(exc)) from None
    address = parse_listen(listen)
    if upstream is None:
        upstream, hint = _embedded()
    else:
        try:
            dbname = shlex.quote(conninfo_to_dict(upstream).get("dbname") or "DBNAME")
        except psycopg.ProgrammingError as exc:  # (was a traceback)
            raise click.ClickException(f"the server to proxy: {str(exc).strip()}") from None
        hint = lambda host, port: f"psql -h {host} -p {port} {dbname}"  # noqa: E731
    try:
        where = Upstream.from_conninfo(upstream)
    except UpstreamError as exc:
        raise click.ClickException(f"the server to proxy: {exc}") from None
    server = Proxy(where, lambda: _load_asker(settings, rules), listen=address)

    def listening() -> None:  # the port bound: the one asked for, or the system's pick for port 0
        click.echo(f"nl2sql-shell proxy on {address[0]}:{server.port}; connect with: {hint(address[0], server.port)}", err=True)

    try:
        asyncio.run(_serve_until_stopped(server, listening))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # the address is taken (another proxy, pgbouncer on 6432)
        raise click.ClickException(f"cannot listen on {address[0]}:{address[1]}: {exc.strerror or exc}") from None


async def _serve_until_stopped(server, listening: Callable[[], None]) -> None:
    """Serves until Ctrl-C or SIGTERM (how a service manager or `kill` stops a server); either
    way the proxy closes: its clients' tasks end and its private socket folder is removed."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await server.serve_forever(listening)


def _embedded() -> tuple[str, Callable[[str, int], str]]:
    """The embedded server with its demo database, and how to reach it through the proxy:
    with the password (from the file named), asked for over SCRAM alone where libpq can
    insist (16 and newer), as whoever holds the port while the proxy does not could ask
    for it in clear text."""
    import atexit

    from nl2sql_shell.db import embedded
    from nl2sql_shell.db.demo import DEMO_DBNAME, ensure_demo

    server = embedded.start()
    atexit.register(server.stop)
    ensure_demo(server.conninfo("postgres"), server.conninfo)
    return server.conninfo(DEMO_DBNAME), lambda host, port: (
        f"psql 'host={host} port={port} dbname={DEMO_DBNAME} user={embedded.SUPERUSER} require_auth=scram-sha-256' "
        f"(the password is the last field of {server.password_file}; libpq 15 and older: leave out require_auth)"
    )


def _load_asker(settings: dict, rules: frozenset[str]):
    """(In the proxy's loader thread.) The one pipeline every connection shares."""
    from nl2sql_shell.llm.load import load_model
    from nl2sql_shell.model_choice import resolve_spec
    from nl2sql_shell.nl2sql.pipeline import Asker, Options

    spec = resolve_spec(settings["model"], settings["adapter"], settings["quantize"], settings["device"], settings["backend"], model_url=settings["model_url"])
    try:
        loaded = load_model(spec, progress=lambda text: click.echo(f"model: {text}", err=True))
    except Exception as exc:
        click.echo(f"model: failed to load ({exc}); the next question tries again", err=True)  # (its client is told too)
        raise
    click.echo(f"model: {getattr(loaded, 'name', spec.model)} loaded; ? questions are answered", err=True)
    return Asker(loaded, Options.chosen(settings["candidates"], rules, settings["check_seconds"], settings["grammar"]))
