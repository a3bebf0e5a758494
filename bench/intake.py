"""Intake of N rows into a national-size hierarchy: screened and stored, against a plain bulk insert of
the same rows (the limit), on SQLite and (with --postgres URL or THIDUA_BENCH_POSTGRES_URL) PostgreSQL.

    python bench/intake.py [--size 10000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlmodel import Session

from models.awards import catalogue
from models.campaigns import ensure_campaigns
from models.db import all_metadata, dispose_engines, get_engine
from models.hierarchy import Hierarchy
from models.intake import _insert_returning_ids, take_in
from models.nominations import Action, Nomination, NominationStep, Nominee, Status
from models.synthetic import generate_national
from models.units import Level

RECEIVED = date(2022, 6, 20)  # in 2022, while the 2022 hierarchy stands (later: its successors)
STAMP = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # timestamps of the baseline's rows
SUBMITTED = "15/06/2022"
FIRST = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quang"]
LAST = ["An", "Bình", "Cường", "Dũng", "Hoa", "Hùng", "Lan", "Mai", "Nam", "Sơn", "Tâm", "Yến"]


def fresh(url: str) -> None:
    engine = get_engine(url)
    with engine.begin() as conn:
        all_metadata().drop_all(conn)
        all_metadata().create_all(conn)


def make_rows(hierarchy: Hierarchy, size: int, seed: int = 7) -> list[tuple[int, dict]]:
    rnd = random.Random(seed)
    day = date(2022, 6, 15)
    communes = [
        u
        for u in hierarchy.by_id.values()
        if u.level == Level.commune and u.valid_on(day) and u.code.startswith("syn.")
    ]
    # a form proposed only at certain reviews of a movement (the Labour Order 3rd class: its final review,
    # from 2025) is not proposed on this 2022 date
    forms = [f for f in catalogue().forms.values() if not f.review_types]
    rows = []
    for i in range(size):
        unit = rnd.choice(communes)
        form = rnd.choice(forms)
        kind = sorted(form.kinds)[rnd.randrange(len(form.kinds))]
        name = f"{rnd.choice(FIRST)} {rnd.choice(MIDDLE)} {rnd.choice(LAST)} {i:05d}"
        rows.append(
            (
                i + 2,
                {
                    "nominee": name,
                    "kind": kind.value,
                    "unit": unit.code,
                    "award": form.code,
                    "campaign": "ntm-2021-2025",
                    "achievement": "Đóng góp xây dựng nông thôn mới",
                    "submitted_on": SUBMITTED,
                },
            )
        )
    return rows


def setup(url: str) -> tuple[Hierarchy, float]:
    from models.calendar import add_working_days

    add_working_days(RECEIVED, 1)  # load the holiday tables once per process (≈ 1–3 s), not per batch
    fresh(url)
    started = time.perf_counter()
    with Session(get_engine(url)) as session:
        generate_national(session=session, shape="2022")
        ensure_campaigns(session=session)
        session.commit()
        hierarchy = Hierarchy.load(session)
    return hierarchy, time.perf_counter() - started


def run_intake(url: str, rows: list[tuple[int, dict]]) -> float:
    started = time.perf_counter()
    with Session(get_engine(url)) as session:
        result = take_in(session=session, rows=rows, source="bench", received_on=RECEIVED)
        session.commit()
    assert len(result.nominations) == len(rows)
    return time.perf_counter() - started


def run_bulk(url: str, rows: list[tuple[int, dict]], hierarchy: Hierarchy) -> float:
    """The limit: the same rows inserted as nominees, nominations and steps, with no screening at all."""
    with Session(get_engine(url)) as session:
        session.execute(text("DELETE FROM nominationstep"))
        session.execute(text("DELETE FROM nomination"))
        session.execute(text("DELETE FROM nominee"))
        session.commit()
        campaign_id = session.execute(text("SELECT id FROM campaign")).scalar_one()
    units = {code: u.id for code, u in hierarchy.by_code.items()}
    started = time.perf_counter()
    with Session(get_engine(url)) as session:
        nominees = [
            {
                "name": r["nominee"],
                "name_key": r["nominee"].lower(),
                "kind": r["kind"],
                "unit_id": units[r["unit"]],
                "frozen": False,
                "created_at": STAMP,
            }
            for _, r in rows
        ]
        ids = _insert_returning_ids(session, Nominee, nominees, ("unit_id", "kind", "name_key"))
        noms = [
            {
                "code": f"B{i:07d}",
                "campaign_id": campaign_id,
                "nominee_id": nid,
                "award_code": r["award"],
                "rule_set": "nd-91-2017",
                "achievement": r["achievement"],
                "submitted_on": date(2022, 6, 15),
                "origin_unit_id": units[r["unit"]],
                "current_unit_id": units[r["unit"]],
                "status": Status.submitted,
                "version": 1,
                "created_at": STAMP,
                "updated_at": STAMP,
            }
            for i, (nid, (_, r)) in enumerate(zip(ids, rows, strict=True))
        ]
        nids = _insert_returning_ids(session, Nomination, noms, ("code",))
        session.connection().execute(
            NominationStep.__table__.insert(),
            [
                {
                    "nomination_id": n,
                    "action": Action.submit,
                    "to_status": Status.submitted,
                    "created_at": STAMP,
                }
                for n in nids
            ],
        )
        session.commit()
    return time.perf_counter() - started


def bench(label: str, url: str, size: int) -> dict:
    hierarchy, setup_s = setup(url)
    rows = make_rows(hierarchy, size)
    intake_s = run_intake(url, rows)
    bulk_s = run_bulk(url, rows, hierarchy)
    dispose_engines()
    return {
        "database": label,
        "rows": size,
        "units": len(hierarchy),
        "setup_s": round(setup_s, 2),
        "intake_s": round(intake_s, 2),
        "intake_rows_per_s": round(size / intake_s),
        "bulk_insert_s": round(bulk_s, 2),
        "bulk_rows_per_s": round(size / bulk_s),
        "ratio_to_limit": round(intake_s / bulk_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--postgres", default=os.environ.get("THIDUA_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(bench("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.size))
    if args.postgres:
        results.append(bench("postgresql", args.postgres, args.size))
    print(
        f"\nIntake of {args.size:,} rows into a national-size hierarchy (screened + stored) vs plain bulk insert\n"
    )
    print(
        f"{'database':<11} {'units':>6} {'intake s':>9} {'rows/s':>8} {'bulk s':>7} {'rows/s':>8} {'× limit':>8}"
    )
    for r in results:
        print(
            f"{r['database']:<11} {r['units']:>6} {r['intake_s']:>9} {r['intake_rows_per_s']:>8} "
            f"{r['bulk_insert_s']:>7} {r['bulk_rows_per_s']:>8} {r['ratio_to_limit']:>8}"
        )
    print(
        f"\ncommand: python bench/intake.py --size {args.size}" + (" --postgres URL" if args.postgres else "")
    )
    print(json.dumps({"benchmark": "intake", "results": results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
