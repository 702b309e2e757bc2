"""What a person reads, in Vietnamese or English: gettext catalogs read with Babel,
and durations, numbers, percentages and times in each language's conventions.

The source texts are English; ``vasscm/locale/vi/LC_MESSAGES/vasscm.po`` holds their
Vietnamese. Texts are marked ``_("...")`` where they are used and ``N_("...")`` where
they are defined ahead of use, so that Babel's extractor finds every one of them
(tests/test_language.py holds the catalog complete).
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from importlib.resources import files
from typing import Final

from babel.core import negotiate_locale
from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from vasscm.durations import hms
from vasscm.errors import VasscmError

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "N_", "Language", "language", "negotiate"]

LANGUAGES: Final = ("vi", "en")
DEFAULT_LANGUAGE: Final = "vi"
DOMAIN: Final = "vasscm"


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


def _read(code: str) -> Catalog:
    path = files("vasscm").joinpath(f"locale/{code}/LC_MESSAGES/{DOMAIN}.po")
    with path.open("rb") as stream:
        return read_po(stream, locale=code, domain=DOMAIN)


@lru_cache(maxsize=len(LANGUAGES))
def texts(code: str) -> dict[str, str]:
    """Every text of the catalog, source -> translation: what the dashboard's script
    translates with (empty for English, the source language)."""
    if code not in LANGUAGES:
        raise VasscmError(f"language {code!r}: vasscm speaks {', '.join(LANGUAGES)}")
    if code == "en":
        return {}
    return {str(m.id): str(m.string) for m in _read(code) if m.id and m.string}


def _catalog(code: str) -> gettext.NullTranslations:
    if code == "en":
        return gettext.NullTranslations()  # the source texts are English
    catalog = _read(code)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@dataclass(frozen=True, slots=True)
class Language:
    """One language's texts and formats (:func:`language`)."""

    code: str
    translations: gettext.NullTranslations

    def _(self, message: str) -> str:
        return self.translations.gettext(message)

    def format(self, message: str, **fields: object) -> str:
        """The translation of ``message`` with its ``{fields}`` filled in."""
        return self._(message).format(**fields)

    def duration(self, seconds: float | None) -> str:
        """``86429`` -> ``24h00m29s`` / ``24 giờ 00 phút 29 giây``; ``–`` for none."""
        if seconds is None:
            return "–"
        sign, h, m, s = hms(seconds)  # the split duration_text writes in English
        return sign + self.format(N_("{h}h{m:02d}m{s:02d}s"), h=h, m=m, s=s)

    def number(self, value: float, digits: int = 0) -> str:
        return format_decimal(value, format=_pattern(digits), locale=self.code)

    def percent(self, share: float | None, digits: int = 1) -> str:
        if share is None:
            return "–"
        return format_percent(share, format=_pattern(digits) + "%", locale=self.code)

    def hours(self, seconds: float) -> str:
        """``36360`` -> ``10.1 hours`` / ``10,1 giờ``."""
        return self.format(N_("{hours} hours"), hours=self.number(seconds / 3600, 1))

    def moment(self, moment: datetime | None, zone: tzinfo) -> str:
        """A local time with its zone: ``2018-03-01 15:05 (UTC+07:00)``."""
        if moment is None:
            return "–"
        local = moment.astimezone(zone)
        text = format_datetime(local, self._(N_("yyyy-MM-dd HH:mm")), locale=self.code)
        return f"{text} ({utc_offset(local)})"


def _pattern(digits: int) -> str:
    """A Babel number pattern: grouped thousands and ``digits`` decimals."""
    return "#,##0" + ("." + "0" * digits if digits else "")


def utc_offset(moment: datetime) -> str:
    offset = moment.utcoffset()
    minutes = 0 if offset is None else round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    return f"UTC{sign}{h:02d}:{m:02d}"


@lru_cache(maxsize=len(LANGUAGES))
def language(code: str) -> Language:
    """The language ``vi`` or ``en``."""
    if code not in LANGUAGES:
        raise VasscmError(f"language {code!r}: vasscm speaks {', '.join(LANGUAGES)}")
    return Language(code, _catalog(code))


def negotiate(preferred: Iterable[str], default: str = DEFAULT_LANGUAGE) -> str:
    """The first of ``preferred`` (an Accept-Language list, best first) vasscm speaks."""
    wanted = [p.split(";")[0].strip().replace("-", "_") for p in preferred if p.strip()]
    found = negotiate_locale(wanted, list(LANGUAGES), sep="_")
    return found if found in LANGUAGES else default
