"""The sample hierarchy (models/data/sample_units.yaml) and the national synthetic generator."""

from __future__ import annotations

import time
import unicodedata
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest
from sqlmodel import Session, func, select

from models.sample import is_example_address, load_sample, ntm_office_emails, read_sample
from models.synthetic import SHAPES, generate_national
from models.text import fold
from models.units import Council, CouncilMember, Level, MemberRole, Unit

IN_2022 = date(2022, 6, 1)
IN_2026 = date(2026, 1, 1)
REFORM = date(2025, 7, 1)

SERIES = {
    Level.president: "QĐ-CTN",
    Level.prime_minister: "QĐ-TTg",
    Level.moha: "QĐ-BNV",
    Level.province: "QĐ-UBND",
    Level.district: "QĐ-UBND",
    Level.commune: "QĐ-UBND",
}


@pytest.fixture
def sample(session: Session) -> dict[str, Unit]:
    """The sample loaded into a fresh database; code → unit."""
    load_sample(session=session)
    session.commit()
    return {u.code: u for u in session.exec(select(Unit))}


def _ancestors(units: dict[int, Unit], unit: Unit) -> list[Unit]:
    out = []
    while unit.parent_id is not None:
        unit = units[unit.parent_id]
        out.append(unit)
    return out


def _boundaries(units) -> list[date]:
    days = set()
    for u in units:
        days.add(u.valid_from)
        if u.valid_to is not None:
            days.update({u.valid_to, u.valid_to + timedelta(days=1)})
    return sorted(days)


# ---------------------------------------------------------------- loading


def test_sample_loads_twice_without_duplicates(session: Session):
    first = load_sample(session=session)
    session.commit()
    second = load_sample(session=session)
    session.commit()

    assert first["units_created"] == first["units"] == len(read_sample())
    assert first["members_created"] == first["members"]
    assert {k: v for k, v in second.items() if k.endswith(("_created", "_updated"))} == {
        "units_created": 0,
        "units_updated": 0,
        "councils_created": 0,
        "councils_updated": 0,
        "members_created": 0,
        "members_updated": 0,
    }
    assert session.exec(select(func.count()).select_from(Unit)).one() == first["units"]
    assert session.exec(select(func.count()).select_from(Council)).one() == first["councils"]
    assert session.exec(select(func.count()).select_from(CouncilMember)).one() == first["members"]


def test_a_changed_row_is_put_back_and_counted(session: Session, sample: dict[str, Unit]):
    row = sample["thanh-hoa.cam-thuy.cam-thanh"]
    row.head_name = "Ai Đó"
    row.parent_id = None
    session.commit()

    counts = load_sample(session=session)

    assert counts["units_updated"] == 1 and counts["units_created"] == 0
    assert row.head_name != "Ai Đó"
    assert row.parent_id == sample["thanh-hoa.cam-thuy"].id


def test_text_is_nfc_and_name_key_is_the_folded_name(sample: dict[str, Unit]):
    for unit in sample.values():
        for text in (unit.code, unit.name, unit.head_name or ""):
            assert unicodedata.is_normalized("NFC", text), unit.code
        assert unit.name_key == fold(unit.name)


# ---------------------------------------------------------------- the tree over time


def test_every_parent_covers_the_whole_life_of_its_child(sample: dict[str, Unit]):
    by_id = {u.id: u for u in sample.values()}
    for child in sample.values():
        if child.parent_id is None:
            assert child.code == "central.chu-tich-nuoc"
            continue
        parent = by_id[child.parent_id]
        assert parent.valid_from <= child.valid_from, child.code
        assert parent.valid_to is None or (
            child.valid_to is not None and parent.valid_to >= child.valid_to
        ), child.code
        assert parent.level.rank > child.level.rank, child.code


def test_cam_thanh_climbs_district_province_moha_pm_president_in_2022(sample: dict[str, Unit]):
    by_id = {u.id: u for u in sample.values()}
    cam_thanh = sample["thanh-hoa.cam-thuy.cam-thanh"]

    chain = _ancestors(by_id, cam_thanh)

    assert cam_thanh.name == "xã Cẩm Thành" and cam_thanh.valid_on(IN_2022)
    assert [u.name for u in chain] == [
        "huyện Cẩm Thủy",
        "tỉnh Thanh Hóa",
        "Bộ Nội vụ (Ban Thi đua – Khen thưởng Trung ương)",
        "Thủ tướng Chính phủ",
        "Chủ tịch nước",
    ]
    assert [u.level for u in chain] == [
        Level.district,
        Level.province,
        Level.moha,
        Level.prime_minister,
        Level.president,
    ]
    assert all(u.valid_on(IN_2022) for u in chain)


def test_cam_thanh_successor_answers_to_the_province_in_2026(sample: dict[str, Unit]):
    by_id = {u.id: u for u in sample.values()}
    cam_thanh = sample["thanh-hoa.cam-thuy.cam-thanh"]

    successor = by_id[cam_thanh.successor_id]

    assert not cam_thanh.valid_on(IN_2026)
    assert successor.name == "xã Cẩm Thạch" and successor.valid_on(IN_2026)
    assert by_id[successor.parent_id].code == "thanh-hoa"
    assert by_id[successor.parent_id].valid_on(IN_2026)
    assert successor.province_id == sample["thanh-hoa"].id


def test_hue_communes_climb_through_their_district_to_the_city_in_the_first_half_of_2025(
    sample: dict[str, Unit],
):
    by_id = {u.id: u for u in sample.values()}
    day = date(2025, 3, 1)
    quang_thai = next(u for u in sample.values() if u.name == "xã Quảng Thái" and u.valid_on(day))

    assert [u.name for u in _ancestors(by_id, quang_thai)][:2] == ["huyện Quảng Điền", "thành phố Huế"]


def test_each_2022_province_has_two_districts_and_three_communes(sample: dict[str, Unit]):
    on = [u for u in sample.values() if u.valid_on(IN_2022)]
    provinces = {u.id: u.name for u in on if u.level == Level.province}
    districts = Counter(u.parent_id for u in on if u.level == Level.district)
    communes = Counter(u.province_id for u in on if u.level == Level.commune)

    assert sorted(provinces.values()) == sorted(
        ["tỉnh Quảng Trị", "tỉnh Bến Tre", "tỉnh Kon Tum", "tỉnh Thừa Thiên Huế", "tỉnh Thanh Hóa"]
    )
    for province_id, name in provinces.items():
        assert districts[province_id] >= 2, name
        assert communes[province_id] >= 3, name
    assert {
        u.name for u in on if u.level == Level.commune and u.parent_id == sample["thanh-hoa.cam-thuy"].id
    } >= {"xã Cẩm Thành", "xã Cẩm Liên", "xã Cẩm Bình"}


def test_each_2025_province_has_three_communes_directly_under_it(sample: dict[str, Unit]):
    on = [u for u in sample.values() if u.valid_on(REFORM)]
    provinces = {u.id: u.name for u in on if u.level == Level.province}
    communes = Counter(u.parent_id for u in on if u.level == Level.commune)

    assert sorted(provinces.values()) == sorted(
        ["tỉnh Quảng Trị", "tỉnh Vĩnh Long", "tỉnh Quảng Ngãi", "thành phố Huế", "tỉnh Thanh Hóa"]
    )
    assert not [u for u in on if u.level == Level.district]
    for province_id, name in provinces.items():
        assert communes[province_id] >= 3, name


def test_every_earlier_unit_reaches_the_two_tier_shape_through_its_successors(sample: dict[str, Unit]):
    by_id = {u.id: u for u in sample.values()}
    for unit in sample.values():
        if unit.valid_to is None:
            assert unit.successor_id is None, unit.code
            continue
        current, steps = unit, 0
        while not current.valid_on(REFORM):
            assert current.successor_id is not None, f"{unit.code}: {current.code} ends without a successor"
            nxt = by_id[current.successor_id]
            assert nxt.valid_on(current.valid_to + timedelta(days=1)), current.code  # takes over next day
            assert nxt.valid_from > current.valid_from or nxt.level.rank > current.level.rank, current.code
            current, steps = nxt, steps + 1
        expected = Level.province if unit.level in (Level.province, Level.district) else Level.commune
        assert current.level == expected, unit.code
        if expected == Level.commune:
            assert by_id[current.parent_id].level == Level.province, unit.code
        assert steps <= 2, unit.code


def test_province_id_is_the_province_the_unit_lies_in(sample: dict[str, Unit]):
    by_id = {u.id: u for u in sample.values()}
    for unit in sample.values():
        if unit.level.rank >= Level.moha.rank:
            assert unit.province_id is None, unit.code
        elif unit.level == Level.province:
            assert unit.province_id == unit.id, unit.code
        else:
            province = next(a for a in _ancestors(by_id, unit) if a.level == Level.province)
            assert unit.province_id == province.id, unit.code


def test_no_two_units_under_one_parent_share_a_folded_name_on_any_date(sample: dict[str, Unit]):
    units = list(sample.values())
    for day in _boundaries(units):
        seen = Counter((u.parent_id, u.name_key) for u in units if u.valid_on(day))
        assert [key for key, n in seen.items() if n > 1] == [], day


def test_no_two_units_valid_on_one_date_share_an_office_address(sample: dict[str, Unit]):
    units = list(sample.values())
    for day in _boundaries(units):
        seen = Counter(u.email for u in units if u.valid_on(day))
        assert [e for e, n in seen.items() if n > 1] == [], day


# ---------------------------------------------------------------- councils and addresses


def test_each_unit_has_a_council_chaired_by_its_head(session: Session, sample: dict[str, Unit]):
    councils = {c.unit_id: c for c in session.exec(select(Council))}
    members = defaultdict(list)
    for m in session.exec(select(CouncilMember)):
        members[m.council_id].append(m)

    for unit in sample.values():
        council = councils[unit.id]
        people = members[council.id]
        roles = Counter(m.role for m in people)
        chair = next(m for m in people if m.role == MemberRole.chair)
        assert 5 <= len(people) <= 9, unit.code
        assert roles[MemberRole.chair] == 1 and 1 <= roles[MemberRole.standing] <= 2, unit.code
        assert (chair.name, chair.email) == (unit.head_name, unit.head_email), unit.code
        assert council.decision_series == SERIES[unit.level], unit.code
        if unit.level.rank <= Level.province.rank:
            assert council.name == f"Hội đồng Thi đua – Khen thưởng {unit.name}"
    assert (
        councils[sample["thanh-hoa.cam-thuy.cam-thanh"].id].name
        == "Hội đồng Thi đua – Khen thưởng xã Cẩm Thành"
    )


def test_every_address_is_valid_and_on_an_example_domain(session: Session, sample: dict[str, Unit]):
    addresses = [a for u in sample.values() for a in (u.email, u.head_email)]
    addresses += [c.office_email for c in session.exec(select(Council))]
    addresses += [m.email for m in session.exec(select(CouncilMember))]
    addresses += list(ntm_office_emails().values())

    assert None not in addresses
    assert [a for a in addresses if not is_example_address(a)] == []


def test_every_province_names_its_ntm_coordination_office(sample: dict[str, Unit]):
    offices = ntm_office_emails()
    assert set(offices) == {code for code, u in sample.items() if u.level == Level.province}


@pytest.mark.parametrize(
    "address, ok",
    [
        ("vanphong@camthanh.thanhhoa.example.gov.vn", True),
        ("a@syn2022.example.vn", True),
        ("vanphong@thanhhoa.gov.vn", False),
        ("someone@example.com", False),
        ("not an address@example.gov.vn", False),
        ("x@notexample.vn", False),
    ],
)
def test_example_address_check(address: str, ok: bool):
    assert is_example_address(address) is ok


# ---------------------------------------------------------------- the synthetic national hierarchy


def _expected(shape: str, scale: float) -> dict[str, int]:
    spec = SHAPES[shape]
    districts = max(spec.provinces, round(spec.districts * scale)) if spec.districts else 0
    communes = max(districts or spec.provinces, round(spec.communes * scale))
    units = spec.provinces + districts + communes
    return {
        "provinces": spec.provinces,
        "districts": districts,
        "communes": communes,
        "units": units,
        "councils": units,
        "members": units * 7,
    }


@pytest.mark.parametrize("shape", ["2022", "2025"])
def test_synthetic_shape_has_the_counts_asked_for(session: Session, shape: str):
    counts = generate_national(session=session, shape=shape, scale=0.05)
    session.commit()

    assert {k: counts[k] for k in _expected(shape, 0.05)} == _expected(shape, 0.05)
    assert counts["created"] == counts["units"]
    again = generate_national(session=session, shape=shape, scale=0.05)
    assert again["created"] == 0 and again["units"] == counts["units"]


@pytest.mark.parametrize("shape", ["2022", "2025"])
def test_synthetic_units_form_a_valid_tree_up_to_the_president(session: Session, shape: str):
    generate_national(session=session, shape=shape, scale=0.03, seed=7)
    session.commit()
    units = {u.id: u for u in session.exec(select(Unit))}
    spec = SHAPES[shape]

    for unit in units.values():
        if not unit.code.startswith("syn."):
            continue
        assert (unit.valid_from, unit.valid_to) == (spec.valid_from, spec.valid_to)
        assert unit.name_key == fold(unit.name)
        chain = _ancestors(units, unit)
        assert chain[-1].level == Level.president
        parent = chain[0]
        assert parent.valid_from <= unit.valid_from
        assert parent.valid_to is None or (unit.valid_to is not None and parent.valid_to >= unit.valid_to)
        province = (
            unit if unit.level == Level.province else next(a for a in chain if a.level == Level.province)
        )
        assert unit.province_id == province.id
    for day in _boundaries(units.values()):
        seen = Counter((u.parent_id, u.name_key) for u in units.values() if u.valid_on(day))
        assert [key for key, n in seen.items() if n > 1] == []


def test_synthetic_is_deterministic_for_a_seed(session: Session):
    generate_national(session=session, shape="2025", scale=0.02, seed=3)
    names = session.exec(select(Unit.code, Unit.name, Unit.head_name).order_by(Unit.code)).all()
    session.rollback()
    generate_national(session=session, shape="2025", scale=0.02, seed=3)
    assert session.exec(select(Unit.code, Unit.name, Unit.head_name).order_by(Unit.code)).all() == names


def test_synthetic_shapes_share_the_central_bodies_with_the_sample(session: Session, sample: dict[str, Unit]):
    generate_national(session=session, shape="2022", scale=0.02)
    generate_national(session=session, shape="2025", scale=0.02)
    session.commit()

    central = session.exec(select(Unit).where(Unit.code.startswith("central."))).all()
    assert len(central) == 3
    moha = next(u for u in central if u.level == Level.moha)
    provinces = session.exec(
        select(Unit).where(Unit.code.startswith("syn."), Unit.level == Level.province)
    ).all()
    assert {p.parent_id for p in provinces} == {moha.id}


def test_both_synthetic_shapes_link_before_to_after(session: Session):
    generate_national(session=session, shape="2025", scale=0.02)
    counts = generate_national(session=session, shape="2022", scale=0.02)
    session.commit()
    units = {u.id: u for u in session.exec(select(Unit).where(Unit.code.startswith("syn.")))}

    assert counts["linked"] == counts["units"]
    for unit in units.values():
        if not unit.code.startswith("syn.2022."):
            continue
        successor = units[unit.successor_id]
        assert successor.code.startswith("syn.2025.") and successor.valid_on(REFORM)
        expected = Level.commune if unit.level == Level.commune else Level.province
        assert successor.level == expected
        if unit.level == Level.commune:
            assert successor.province_id == units[unit.province_id].successor_id
    assert generate_national(session=session, shape="2025", scale=0.02)["linked"] == 0


def test_full_national_2022_shape(session: Session):
    started = time.perf_counter()
    counts = generate_national(session=session, shape="2022")
    session.commit()
    elapsed = time.perf_counter() - started

    assert {k: counts[k] for k in ("provinces", "districts", "communes", "councils", "members")} == {
        "provinces": 63,
        "districts": 705,
        "communes": 10_599,
        "councils": 11_367,
        "members": 79_569,
    }
    # A few seconds on a laptop; the bound only catches a fall back to row-by-row inserts.
    assert elapsed < 60, f"national 2022 shape took {elapsed:.1f}s"
