"""The ``vasscm`` command: vasscm's commands, then faust's, and one line per failure.

Usage errors are one line on stderr and exit 2; a failure at run time is one line
and exit 1 (``--traceback`` shows where it happened). The commands of contract
section 6 are stable: change them only by adding.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final, NoReturn

import click

from vasscm.cli import faust_app, live, offline
from vasscm.errors import VasscmError

__all__ = ["cli", "main"]

#: Options of vasscm's own group; any other option before the command is faust's.
_OWN_OPTIONS: Final = frozenset({"--help", "-h", "--version", "--traceback"})


def _version_line() -> str:
    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "unknown"

    python = ".".join(map(str, sys.version_info[:3]))
    return f"vasscm {of('vasscm')} (faust-streaming {of('faust-streaming')}, Python {python})"


class _Group(click.Group):
    """Commands listed in the order added; faust's listed after them, run by faust."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        own = self.commands.get(name)
        if own is not None or name.startswith("-"):
            return own
        faust_group = faust_app.faust_commands()
        found = faust_group.commands.get(name)
        if found is None:
            return None
        return faust_app.passthrough(name, found.get_short_help_str(80))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_commands(ctx, formatter)
        faust_group = faust_app.faust_commands()
        rows = [
            (name, faust_group.commands[name].get_short_help_str(60))
            for name in faust_group.list_commands(ctx)
            if name not in self.commands
        ]
        with formatter.section("faust's commands, for the worker's app (vasscm COMMAND --help)"):
            formatter.write_dl(rows)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(message=_version_line(), help="Show vasscm's version (and faust's).")
@click.option("--traceback", is_flag=True, help="On a failure, show where it happened.")
def cli(traceback: bool) -> None:
    """vasscm: automated customs supervision of container visits, from arrival to exit.

    Settings come from VASSCM_* environment variables (see the README).
    """


cli.add_command(faust_app.passthrough("worker", faust_app.WORKER_HELP))
for _command in (
    live.demo,
    offline.replay,
    offline.report,
    offline.backtest,
    live.simulate,
    live.produce,
    live.broker,
    live.archive,
    offline.topics,
):
    cli.add_command(_command)


def _say(where: str, message: str) -> None:
    line = " ".join(message.split())  # one line, whatever the message held
    sys.stderr.write(f"{where}: {line}\n")


def _run(args: list[str]) -> int:
    traceback = False
    # the command's name, for the one line a failure gets (group options come first)
    name = next((a for a in args if not a.startswith("-")), None)
    where = "vasscm" if name is None else f"vasscm {name}"
    try:
        with cli.make_context("vasscm", list(args)) as ctx:
            traceback = bool(ctx.params.get("traceback"))
            result: Any = cli.invoke(ctx)
        return int(result or 0)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `vasscm`: the help, as --help
        click.echo(exc.ctx.get_help() if exc.ctx is not None else "")
        return 0
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "vasscm"
        _say(command, f"{exc.format_message()} (see '{command} --help')")
        return exc.exit_code
    except click.ClickException as exc:
        _say(where, exc.format_message())
        return exc.exit_code
    except click.Abort:
        _say(where, "aborted")
        return 130
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `vasscm simulate | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except VasscmError as exc:
        if traceback:
            raise
        _say(where, str(exc))
        return 1
    except Exception as exc:
        if traceback:
            raise
        _say(where, f"{type(exc).__name__}: {exc} (--traceback shows where)")
        return 1


def main(args: list[str] | None = None) -> NoReturn:
    """Entry point of the ``vasscm`` command."""
    args = sys.argv[1:] if args is None else list(args)
    if args and args[0].startswith("-") and args[0] not in _OWN_OPTIONS:
        faust_app.run_faust(args)  # faust's own options first: faust's command line
    raise SystemExit(_run(args))
