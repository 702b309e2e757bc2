"""What the commands share: option types, and the settings read as one clear error."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from vasscm.errors import VasscmError

if TYPE_CHECKING:
    from vasscm.settings import Settings

__all__ = ["broker_option", "csv_list", "existing_file", "settings", "timestamp"]

existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)

#: The broker of the commands that talk to one (produce, archive).
broker_option = click.option(
    "--broker",
    "broker",
    default=None,
    help="bootstrap host:port or kafka:// URL (default: VASSCM_BROKER)",
)


def timestamp(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    from pydantic import TypeAdapter

    from vasscm.events import Timestamp  # the contract's timestamp rules

    try:
        return TypeAdapter(Timestamp).validate_python(value)
    except Exception as exc:
        raise click.BadParameter(
            f"{value!r} is not an RFC 3339 timestamp with an offset (e.g. 2018-12-31T17:00:00Z)"
        ) from exc


def csv_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def settings() -> Settings:
    """The settings, or a VasscmError naming each bad ``VASSCM_`` variable."""
    from pydantic import ValidationError

    from vasscm.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"VASSCM_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise VasscmError(f"bad setting: {problems}") from None
