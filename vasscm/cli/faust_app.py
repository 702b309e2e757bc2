"""``vasscm worker`` and faust's other commands: handed to faust's own command line.

faust parses their options and runs them with vasscm's app. Before it does, a
worker's topic layout is read from the broker and its web port checked, so that
either failing is one line rather than a worker that starts and falls over.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from vasscm.cli.options import settings
from vasscm.errors import VasscmError

__all__ = ["WORKER_HELP", "faust_commands", "passthrough", "run_faust"]

#: faust's help for its worker options, where it is wrong for vasscm's app.
WORKER_HELP = "Track containers live from Kafka; dashboard, API and metrics"
_WORKER_OPTIONS = {
    "web_bind": "address the web server (dashboard, API, metrics) listens on "
    "(default: VASSCM_WEB_HOST, 127.0.0.1)",
    "web_host": "host name for the web server (default: VASSCM_WEB_HOST, 127.0.0.1)",
    "web_port": "port of the web server (default: VASSCM_WEB_PORT, 6066)",
    "with_web": "ignored: vasscm's own web server always runs",
}


def faust_commands() -> click.Group:
    """faust's command group (importing it loads faust: about half a second)."""
    from faust.cli.faust import cli

    return cli


def _describe_worker(group: click.Group) -> click.Command:
    worker = group.commands.get("worker")
    if worker is None:
        raise VasscmError("faust's command line has no 'worker' command: faust changed")
    worker.help = WORKER_HELP
    for param in worker.params:
        if isinstance(param, click.Option) and param.name in _WORKER_OPTIONS:
            param.help = _WORKER_OPTIONS[param.name]
            param.show_default = False
    return worker


def _worker_layout(config: Any) -> Any:
    """The topic layout a worker takes from the topics that exist (vasscm.live.kafka.layout).
    The broker may still be starting: the metadata is asked for again for up to a
    minute."""
    import asyncio
    import time

    from vasscm.live.kafka.auth import aiokafka_options
    from vasscm.live.kafka.layout import LayoutError, plan, read_partitions
    from vasscm.settings import bootstrap_servers

    bootstrap = bootstrap_servers(config.broker)
    deadline = time.monotonic() + 60
    while True:
        try:
            existing = asyncio.run(read_partitions(bootstrap, aiokafka_options(config), 5.0))
            layout = plan(existing, config.partitions)
        except LayoutError as exc:
            unreachable = str(exc).startswith("cannot read")
            if unreachable and time.monotonic() < deadline:
                time.sleep(1.0)
                continue
            raise
        click.echo(
            f"vasscm worker: {layout.partitions} partitions for the tracker's topics, "
            f"{layout.customs_partitions} for {'existing' if existing else 'new'} customs events"
            + (
                f" (existing: {', '.join(f'{k} {v}' for k, v in sorted(existing.items()))})"
                if existing
                else ""
            ),
            err=True,
        )
        return layout


def _check_web_port(worker: click.Command, args: list[str], config: Any) -> None:
    from vasscm.live.tools.broker_probe import port_is_free

    parsed = worker.make_context("worker", list(args), resilient_parsing=True).params
    host = parsed.get("web_bind") or config.web_host
    port = parsed.get("web_port") or config.web_port
    if not port_is_free(host, port):
        raise VasscmError(
            f"port {port} on {host} is taken (another worker or demo?); "
            "choose another with --web-port or VASSCM_WEB_PORT"
        )


def run_faust(args: list[str]) -> NoReturn:
    """Run ``vasscm <args>`` through faust's command line with vasscm's app."""
    from vasscm.live.app import create_app

    config = settings()
    group = faust_commands()
    worker = _describe_worker(group)
    words = [a for a in args if not a.startswith("-")]
    runs_a_worker = words[:1] == ["worker"] and not {"-h", "--help"} & set(args)
    layout = None
    if runs_a_worker:
        _check_web_port(worker, args[args.index("worker") + 1 :], config)
        layout = _worker_layout(config)
    app, _ = create_app(config, layout)
    sys.argv = ["vasscm", *args]
    app.main()


def passthrough(name: str, short_help: str) -> click.Command:
    """A command of vasscm's group that hands its whole command line to faust."""

    @click.command(
        name,
        help=short_help,
        short_help=short_help,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> NoReturn:
        run_faust([name, *args])

    return command
