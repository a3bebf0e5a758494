"""The routing matrix: every award form × a 2022 and a 2026 date × the sample localities → the exact
chain of units. Expected chains are built from the sample YAML itself, not from the routing code."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from models.awards import catalogue
from models.hierarchy import NoRoute
from models.units import Level

SAMPLE = Path(__file__).parents[1] / "models" / "data" / "sample_units.yaml"
DAYS = {"2022": date(2022, 6, 15), "2026": date(2026, 3, 2)}


@lru_cache(maxsize=1)
def _yaml_units() -> dict[str, dict]:
    raw = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    units = raw["units"] if isinstance(raw, dict) and "units" in raw else raw
    return {u["code"]: u for u in units}


def _valid(u: dict, day: date) -> bool:
    start = u.get("valid_from") or date(1900, 1, 1)
    end = u.get("valid_to")
    return start <= day and (end is None or day <= end)


def _expected_chain(units: dict[str, dict], code: str, authority: Level) -> list[str] | None:
    chain, current = [], units[code]
    while current is not None:
        chain.append(current["code"])
        if Level(current["level"]) == authority:
            return chain
        current = units.get(current.get("parent")) if current.get("parent") else None
    return None


def _communes_on(units: dict[str, dict], day: date) -> list[str]:
    return sorted(c for c, u in units.items() if u["level"] == "commune" and _valid(u, day))


CASES = [
    (form, label, code)
    for label, day in DAYS.items()
    for code in _communes_on(_yaml_units(), day)
    for form in catalogue().forms
]


@pytest.mark.parametrize(("form_code", "label", "commune"), CASES)
def test_routing_matrix(sample_hierarchy, form_code: str, label: str, commune: str) -> None:
    units = _yaml_units()
    day = DAYS[label]
    form = catalogue().forms[form_code]
    sample = sample_hierarchy
    start = sample.resolve(commune, on=day)
    expected = _expected_chain(units, commune, form.authority)
    if expected is None:
        with pytest.raises(NoRoute):
            sample.chain(start.id, form.authority)
        return
    assert [u.code for u in sample.chain(start.id, form.authority)] == expected
    assert all(sample.by_code[c].valid_on(day) for c in expected), "every level valid on the dossier's date"


def test_cam_thanh_2022_prime_minister_certificate(sample_hierarchy) -> None:
    sample = sample_hierarchy
    start = sample.resolve("Cẩm Thành", on=DAYS["2022"])
    names = [u.name for u in sample.chain(start.id, Level.prime_minister)]
    assert [u.level for u in sample.chain(start.id, Level.prime_minister)] == [
        Level.commune,
        Level.district,
        Level.province,
        Level.moha,
        Level.prime_minister,
    ]
    assert "Cẩm Thủy" in names[1] and "Thanh Hóa" in names[2]


def test_thanh_hoa_commune_2026_skips_the_district(sample_hierarchy) -> None:
    sample = sample_hierarchy
    province = sample.resolve("thanh hoa", on=DAYS["2026"])
    commune = next(
        u
        for u in sample.by_id.values()
        if u.level == Level.commune and u.parent_id == province.id and u.valid_on(DAYS["2026"])
    )
    levels = [u.level for u in sample.chain(commune.id, Level.prime_minister)]
    assert levels == [Level.commune, Level.province, Level.moha, Level.prime_minister]
    with pytest.raises(NoRoute):
        sample.chain(commune.id, Level.district)


def test_labour_order_goes_on_to_the_president(sample_hierarchy) -> None:
    sample = sample_hierarchy
    start = sample.resolve("Cẩm Thành", on=DAYS["2022"])
    chain = sample.chain(start.id, catalogue().forms["huan-chuong-ld-3"].authority)
    assert [u.level for u in chain][-2:] == [Level.prime_minister, Level.president]


def test_names_resolve_without_diacritics_and_ambiguity_lists_candidates(sample_hierarchy) -> None:
    sample = sample_hierarchy
    from models.hierarchy import AmbiguousUnit, UnitNotFound

    assert sample.resolve("CẨM THÀNH", on=DAYS["2022"]).code == "thanh-hoa.cam-thuy.cam-thanh"
    assert (
        sample.resolve("xã cẩm thủy", on=DAYS["2026"]).code
        == sample.resolve("cam thuy", on=DAYS["2026"]).code
    )
    # xã Cẩm Thành (Thanh Hóa) and xã Cam Thành (Quảng Trị) fold to the same key: without diacritics the
    # name is ambiguous, and the error names every candidate with its code.
    with pytest.raises(AmbiguousUnit) as info:
        sample.resolve("cam thanh", on=DAYS["2022"])
    assert "thanh-hoa.cam-thuy.cam-thanh" in str(info.value) and "quang-tri.cam-lo.cam-thanh" in str(
        info.value
    )
    with pytest.raises(UnitNotFound, match="không tồn tại vào ngày 02/03/2026"):
        sample.resolve("Cẩm Thành", on=DAYS["2026"])
    with pytest.raises(UnitNotFound):
        sample.resolve("xã Không Có", on=DAYS["2022"])


# --- the screening matrix with the review type (issue 13, item 8) ------------------------------------

FORMS_YAML = Path(__file__).parents[1] / "models" / "data" / "award_forms.yaml"
REVIEW_DAYS = {
    "2023": date(2023, 9, 15),
    "2026": date(2026, 3, 2),
}  # the mid-term year; after the final review
REVIEW_WORDS = {
    None: "",
    "thuong-xuyen": "thường xuyên",
    "chuyen-de": "chuyên đề",
    "so-ket": "sơ kết",
    "tong-ket": "tổng kết",
}
KIND_WORDS = {"individual": "cá nhân", "collective": "tập thể", "household": "hộ gia đình"}


def _expected_column(raw: dict, form: str, day: date, review: str | None, has_route: bool) -> str | None:
    """The column a row is refused on (None: accepted), from the YAML alone: the form must be in the rule
    set of the dossier's date and reachable; a form with review types needs one of them; a final review
    (tổng kết) of the 2021–2025 movement is not before 2025."""
    rule_set = next(
        rs
        for rs in raw["rule_sets"]
        if rs["effective_from"] <= day and (rs["effective_to"] is None or day <= rs["effective_to"])
    )
    allowed = raw["forms"][form].get("review_types")
    if form not in rule_set["forms"] or not has_route:
        return "award"
    if allowed and review not in allowed:
        return "review_type"
    if review == "tong-ket" and day.year < 2025:
        return "review_type"
    return None


def test_screening_matrix_with_the_review_type(session, sample) -> None:
    from models.intake import parse_rows, screen

    raw = yaml.safe_load(FORMS_YAML.read_text(encoding="utf-8"))
    units = _yaml_units()
    cases, rows = {}, []
    for label, day in REVIEW_DAYS.items():
        for commune in _communes_on(units, day):
            for form, spec in raw["forms"].items():
                for review, word in REVIEW_WORDS.items():
                    number = len(rows) + 2
                    has_route = _expected_chain(units, commune, Level(spec["authority"])) is not None
                    cases[number] = (
                        form,
                        label,
                        commune,
                        review,
                        _expected_column(raw, form, day, review, has_route),
                    )
                    rows.append(
                        (
                            number,
                            {
                                "nominee": f"Người thứ {number}",
                                "kind": KIND_WORDS[spec["kinds"][0]],
                                "unit": commune,
                                "award": form,
                                "submitted_on": day.strftime("%d/%m/%Y"),
                                "review_type": word,
                            },
                        )
                    )
    parsed, errors = parse_rows(rows)
    assert errors == []
    out = screen(session=session, rows=parsed, hierarchy=sample, today=date(2026, 11, 23))
    refused: dict[int, set[str | None]] = {}
    for e in out.errors:
        refused.setdefault(e.row, set()).add(e.column)
    accepted = {a.row for a in out.accepted}
    assert accepted | set(refused) == set(cases) and not accepted & set(refused)
    wrong = {
        n: (case, refused.get(n))
        for n, case in cases.items()
        if (n in accepted) != (case[-1] is None) or (case[-1] is not None and case[-1] not in refused[n])
    }
    assert wrong == {}
    # Labour Order 3rd class (Law Art. 44(2)(a)): at a sơ kết, 2023 included, as at a tổng kết; not at a
    # regular or thematic review
    assert any(
        c[:2] == ("huan-chuong-ld-3", "2023") and c[3] == "so-ket" and c[4] is None for c in cases.values()
    )
    assert any(
        c[:2] == ("huan-chuong-ld-3", "2023") and c[3] == "thuong-xuyen" and c[4] == "review_type"
        for c in cases.values()
    )
