"""The site registry: what a site code (``cai-lan``) is called, in which time zone.

Events, metrics and the API keep the codes; what a person reads (the dashboard,
the report) shows the names and local times. The registry ships in the package
(``vasscm/data/sites.toml``); ``VASSCM_SITES_FILE`` replaces it with a file of the
same shape. A code the registry does not know still works, shown as its code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vasscm.errors import VasscmError
from vasscm.limits import SITE_PATTERN

__all__ = ["DEFAULT_TZ", "KINDS", "Registry", "Site", "SitesError", "load_registry"]

KINDS: Final = ("seaport", "land_border_gate", "airport", "inland_depot", "unknown")
SiteKind = Literal["seaport", "land_border_gate", "airport", "inland_depot", "unknown"]
DEFAULT_TZ: Final = "Asia/Ho_Chi_Minh"
_LANGUAGES: Final = ("vi", "en")


class SitesError(VasscmError):
    """The registry file cannot be read: names the file, the site and the field."""


@dataclass(frozen=True, slots=True)
class Site:
    code: str
    names: dict[str, str] = field(default_factory=dict)  # language -> name
    kind: SiteKind = "unknown"
    branches: dict[str, str] = field(default_factory=dict)  # language -> customs branch
    tz: str = DEFAULT_TZ
    # UN/LOCODEs it is known by (DCSA events give the location so); the first is written.
    unlocodes: tuple[str, ...] = ()

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.code

    def branch(self, language: str) -> str | None:
        return self.branches.get(language) or self.branches.get("en")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


@dataclass(frozen=True, slots=True)
class Registry:
    sites: dict[str, Site]
    source: str

    def get(self, code: str) -> Site:
        known = self.sites.get(code)
        return known if known is not None else Site(code)

    @property
    def locodes(self) -> dict[str, str]:
        """UN/LOCODE -> site code, for every UN/LOCODE a site is known by."""
        return {code: site.code for site in self.sites.values() for code in site.unlocodes}

    def locode_of(self, code: str) -> str | None:
        """The UN/LOCODE a site is written with (its first), if it has one."""
        site = self.sites.get(code)
        return site.unlocodes[0] if site is not None and site.unlocodes else None


def _texts(where: str, value: object, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
    ):
        raise SitesError(f"{where}: {name} must map languages to non-empty texts")
    unknown = sorted(set(value) - set(_LANGUAGES))
    if unknown:
        raise SitesError(f"{where}: {name}: unknown languages {unknown} (vi, en)")
    return dict(value)


def _site(source: str, code: str, table: object) -> Site:
    where = f"{source}: site {code!r}"
    if not isinstance(table, dict):
        raise SitesError(f"{where}: expected a table of fields")
    fields = ("name", "kind", "branch", "tz", "unlocode")
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise SitesError(f"{where}: unknown fields {unknown} ({', '.join(fields)})")
    names = _texts(where, table.get("name"), "name")
    if not names:
        raise SitesError(f"{where}: name: required (name.vi and name.en)")
    kind = table.get("kind", "unknown")
    if kind not in KINDS:
        raise SitesError(f"{where}: kind: {kind!r} is not one of {', '.join(KINDS)}")
    tz = table.get("tz", DEFAULT_TZ)
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise SitesError(f"{where}: tz: {tz!r} is not an IANA time zone") from None
    branches = _texts(where, table.get("branch"), "branch")
    return Site(code, names, kind, branches, str(tz), _locodes(where, table.get("unlocode")))


def _locodes(where: str, value: object) -> tuple[str, ...]:
    codes = [value] if isinstance(value, str) else value if value is not None else []
    if not isinstance(codes, list) or not all(
        isinstance(c, str) and re.fullmatch(r"[A-Z]{2}[A-Z2-9]{3}", c) for c in codes
    ):
        raise SitesError(
            f"{where}: unlocode: a UN/LOCODE (country and place, 5 capitals like VNCLN) "
            "or a list of them"
        )
    return tuple(codes)


def _parse(text: str, source: str) -> Registry:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SitesError(f"{source}: not TOML: {exc}") from None
    sites = {}
    for code, table in doc.items():
        if not re.fullmatch(SITE_PATTERN, code):
            raise SitesError(f"{source}: {code!r} is not a site code (like cai-lan)")
        sites[code] = _site(source, code, table)
    return Registry(sites, source)


@lru_cache(maxsize=8)
def load_registry(path: Path | None = None) -> Registry:
    """The packaged registry, or the one at ``path`` (VASSCM_SITES_FILE)."""
    if path is None:
        resource = files("vasscm").joinpath("data/sites.toml")
        return _parse(resource.read_text(encoding="utf-8"), "vasscm/data/sites.toml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SitesError(f"cannot read the site registry {path}: {exc.strerror}") from None
    return _parse(text, str(path))
