"""The Vietnamese catalog is complete and each text keeps its fields; durations,
numbers and times read as each language writes them (issue 15)."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import vasscm
from vasscm.errors import VasscmError
from vasscm.language import language, negotiate

PACKAGE = Path(vasscm.__file__).parent
CATALOG = PACKAGE / "locale/vi/LC_MESSAGES/vasscm.po"


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _marked() -> set[str]:
    found = extract_from_dir(  # as `make catalog` does: the code and the dashboard's script
        str(PACKAGE),
        method_map=[("**.py", "python"), ("**.js", "javascript")],
        keywords={"_": None, "N_": None},
    )
    return {message for _, _, message, _, _ in found}


def test_every_marked_text_has_its_vietnamese_and_nothing_else_is_in_the_catalog() -> None:
    with CATALOG.open("rb") as stream:
        catalog = read_po(stream, locale="vi")
    entries = {m.id: m.string for m in catalog if m.id}
    marked = _marked()
    assert len(marked) > 50  # the extractor found the report's texts
    assert sorted(marked - set(entries)) == [], "marked but not in the catalog"
    assert sorted(set(entries) - marked) == [], "in the catalog, no longer used"
    assert sorted(k for k, v in entries.items() if not v) == [], "untranslated"
    assert not [m.id for m in catalog if m.id and m.fuzzy], "fuzzy entries are not used"


def test_a_translation_uses_only_the_fields_its_text_gives() -> None:
    with CATALOG.open("rb") as stream:
        catalog = read_po(stream, locale="vi")
    wrong = {m.id: m.string for m in catalog if m.id and not _fields(m.string) <= _fields(m.id)}
    assert wrong == {}


@pytest.mark.parametrize(
    ("code", "seconds", "text"),
    [
        ("vi", 86429, "24 giờ 00 phút 29 giây"),
        ("en", 86429, "24h00m29s"),
        ("vi", 59.6, "0 giờ 01 phút 00 giây"),
        ("en", -90, "-0h01m30s"),
        ("en", None, "–"),
    ],
)
def test_durations(code: str, seconds: float | None, text: str) -> None:
    assert language(code).duration(seconds) == text


def test_numbers_percentages_and_hours_follow_the_language() -> None:
    vi, en = language("vi"), language("en")
    assert (vi.number(12345), en.number(12345)) == ("12.345", "12,345")
    assert (vi.percent(0.294), en.percent(0.294)) == ("29,4%", "29.4%")
    assert (vi.hours(36000), en.hours(36000)) == ("10,0 giờ", "10.0 hours")


def test_times_are_local_with_their_zone() -> None:
    moment = datetime(2018, 3, 1, 8, 5, tzinfo=UTC)
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    assert language("vi").moment(moment, zone) == "01/03/2018 15:05 (UTC+07:00)"
    assert language("en").moment(moment, zone) == "2018-03-01 15:05 (UTC+07:00)"


def test_the_browser_language_picks_vi_or_en() -> None:
    assert negotiate(["vi-VN", "en;q=0.8"]) == "vi"
    assert negotiate(["en-US", "vi;q=0.5"]) == "en"
    assert negotiate(["fr-FR", "de"]) == "vi"  # nobody asked for ours: the default
    assert negotiate([], default="en") == "en"


def test_an_unknown_language_is_refused_by_name() -> None:
    with pytest.raises(VasscmError, match="'fr'"):
        language("fr")
