"""The site registry: names, kinds and time zones of the site codes; a replacement file
with the same shape; an unknown code shown as itself; bad files refused by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from vasscm.sites import SitesError, load_registry


def test_the_packaged_registry_names_the_demo_sites_in_both_languages() -> None:
    sites = load_registry()
    cai_lan, mong_cai = sites.get("cai-lan"), sites.get("mong-cai")
    assert (cai_lan.name("vi"), cai_lan.name("en")) == ("Cảng Cái Lân", "Cai Lan port")
    assert (cai_lan.kind, mong_cai.kind) == ("seaport", "land_border_gate")
    assert "Móng Cái" in mong_cai.name("vi")
    assert "Quảng Ninh" in (mong_cai.branch("vi") or "")
    assert cai_lan.zone.key == "Asia/Ho_Chi_Minh"


def test_the_packaged_registry_knows_the_seaports_by_their_un_locodes() -> None:
    registry = load_registry()

    assert {"VNCLN": "cai-lan", "VNMOC": "mong-cai"}.items() <= registry.locodes.items()
    assert ("VNHPH", "hai-phong") == (registry.locode_of("hai-phong"), registry.locodes["VNHAP"])
    assert None is registry.locode_of("noi-bai")


def test_an_unknown_code_is_shown_as_itself() -> None:
    site = load_registry().get("lao-cai-2")
    assert (site.name("vi"), site.kind, site.tz) == ("lao-cai-2", "unknown", "Asia/Ho_Chi_Minh")


def test_a_file_replaces_the_registry(tmp_path: Path) -> None:
    path = tmp_path / "sites.toml"
    path.write_text(
        '[lao-cai]\nname.vi = "Cửa khẩu Lào Cai"\nname.en = "Lao Cai border gate"\n'
        'kind = "land_border_gate"\ntz = "Asia/Ho_Chi_Minh"\n',
        encoding="utf-8",
    )
    sites = load_registry(path)
    assert sites.get("lao-cai").name("en") == "Lao Cai border gate"
    assert sites.get("cai-lan").name("en") == "cai-lan"  # replaced, not merged


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('["Bad Code"]\nname.en = "x"\n', "'Bad Code' is not a site code"),
        ("[a]\nkind = 'seaport'\n", "name: required"),
        ('[a]\nname.en = "x"\nkind = "harbour"\n', "kind: 'harbour' is not one of"),
        ('[a]\nname.en = "x"\ntz = "Mars/Olympus"\n', "tz: 'Mars/Olympus' is not an IANA"),
        ('[a]\nname.fr = "x"\n', "unknown languages ['fr']"),
        ('[a]\nname.en = "x"\nport = 1\n', "unknown fields ['port']"),
        ('[a]\nname.en = "x"\nunlocode = "vncln"\n', "unlocode: a UN/LOCODE"),
        ('[a]\nname.en = "x"\nunlocode = ["VNCLN", 5]\n', "unlocode: a UN/LOCODE"),
        ("[a\n", "not TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_site_and_field(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "sites.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SitesError) as caught:
        load_registry(path)
    assert problem in str(caught.value)
    assert str(path) in str(caught.value)
