"""Benchmark: a national-size reminder day through the `deadline-reminders` flow.

    .venv/bin/python bench/reminders.py [--size 11304] [--day 07/12/2021] [--catch-up] [--limit-sample 2000]

Generates the national synthetic hierarchy of the 2022 shape (63 provinces, 705 districts, 10,599
communes; `--size` scales districts + communes) into a fresh SQLite database in a temporary folder, and
a yearly report due 30/11 that binds both districts and communes (11,304 units). 2021 is used because the
2022-shape synthetic units are valid from 1/1/2021 to 30/6/2025 and the file's own yearly report starts
with 2022, so nothing else is due. The default day, 07/12/2021, is the heaviest of the cycle: the fifth
working day late, when every unit's head AND its superior's head hear of it (two items per unit).

One flow run (Prefect test harness: a temporary local API server) computes the items, writes the ledger,
renders and queues one digest per recipient and delivers them to an aiosmtpd sink on 127.0.0.1 (its own
process, Maildir). A second run the same day must queue and send nothing. Then, for scale, a bare
aiosmtplib loop re-sends a sample of the same letters to a fresh sink: the machine's SMTP limit at that
moment (the figures depend heavily on what else runs on the machine; the load is printed). Prints a
table, then ONE line of JSON with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import check_maildir, harness_figures, isolated_environment, print_figures, start_sink, use_sink  # noqa: E402

NATIONAL_BOUND = 705 + 10_599  # districts + communes of the 2022 shape


def _generate(url: str, *, size: int) -> dict[str, int]:
    from models.db import create_all_for_tests, session_scope
    from models.deadlines import DeadlineSpec, deadline_specs, ensure_deadlines
    from models.synthetic import generate_national

    create_all_for_tests(url)  # a throwaway database
    bench = DeadlineSpec.model_validate(
        {
            "code": "bench-bao-cao-nam",
            "campaign": "ntm-2021-2025",
            "name": "Báo cáo tình hình tổ chức thực hiện Phong trào thi đua «Chung sức xây dựng nông thôn mới» năm {year}",
            "short_name": "Báo cáo phong trào năm {year}",
            "recurrence": "yearly",
            "day": 30,
            "month": 11,
            "submit_to": "ntm_office",
            "binds": [{"level": "district"}, {"level": "commune"}],
            "legal_basis": "Benchmark: Quyết định số 1872/QĐ-UBND ngày 15/7/2022 của UBND tỉnh Quảng Trị (mục VII.4)",
        }
    )
    with session_scope() as session:
        counts = generate_national(session=session, shape="2022", scale=min(1.0, size / NATIONAL_BOUND))
        ensure_deadlines(session=session, specs=(*deadline_specs(), bench))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=NATIONAL_BOUND, help="bound units (districts + communes)")
    parser.add_argument("--day", default="07/12/2021", help="the reminder day, dd/mm/yyyy")
    parser.add_argument(
        "--catch-up",
        action="store_true",
        help="also catch up the 7 days before (a first run); default: that day only",
    )
    parser.add_argument(
        "--limit-sample",
        type=int,
        default=2000,
        help="letters re-sent by a bare aiosmtplib loop to a second sink: the machine's limit (0: skip)",
    )
    args = parser.parse_args()

    from models.clock import parse_date

    day = parse_date(args.day)
    workdir = Path(tempfile.mkdtemp(prefix="thidua-bench-reminders-"))
    url = isolated_environment(workdir)
    figures: dict[str, Any] = {"size": args.size, "day": day.isoformat()}
    sink = None
    try:
        started = time.perf_counter()
        counts = _generate(url, size=args.size)
        figures["generate_s"] = round(time.perf_counter() - started, 1)
        figures["bound_units"] = counts["districts"] + counts["communes"]
        figures["units"] = counts["units"]

        sink, port = start_sink(maildir=workdir / "mail")
        use_sink(port)
        from prefect.testing.utilities import prefect_test_harness

        since = None if args.catch_up else day
        started = time.perf_counter()
        with prefect_test_harness(server_startup_timeout=300):
            figures["harness_start_s"] = round(time.perf_counter() - started, 1)
            from flows.deadlines import deadline_reminders

            started = time.perf_counter()
            first = asyncio.run(deadline_reminders(today=day, since=since))
            figures["flow_run_s"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            second = asyncio.run(deadline_reminders(today=day, since=since))
            figures["second_run_s"] = round(time.perf_counter() - started, 2)
        delivery = first.get("delivery", {})
        figures.update(
            items=first["items"],
            by_kind=first["by_kind"],
            recipients=first["recipients"],
            letters=first["letters"],
            queue_s=first["elapsed_s"],
            sent=delivery.get("sent", 0),
            retried=delivery.get("retried", 0),
            failed=delivery.get("failed", 0),
            deliver_s=round(delivery.get("elapsed", 0.0), 2),
            second_run_letters=second["letters"],
            second_run_items=second["items"],
            second_run_sent=second.get("delivery", {}).get("sent", 0),
        )
        figures["messages_per_s"] = round(figures["sent"] / figures["flow_run_s"])
        figures["items_per_s"] = round(first["items"] / figures["flow_run_s"])
        stored, unique = check_maildir(workdir / "mail")
        figures.update(sink_stored=stored, sink_unique_message_ids=unique)
        if args.limit_sample:
            from mail_delivery import _bare_loop, _composed

            sink.terminate()
            sink.wait(timeout=10)
            sink, bare_port = start_sink(maildir=workdir / "bare-mail")
            letters = _composed(url, count=args.limit_sample)
            figures["bare_1conn_per_s"] = round(
                asyncio.run(_bare_loop(port=bare_port, letters=letters, connections=1))
            )
            figures["ratio_to_limit"] = (
                round(figures["bare_1conn_per_s"] / (figures["sent"] / figures["deliver_s"]), 2)
                if figures["sent"] and figures["deliver_s"]
                else None
            )
    finally:
        if sink is not None:
            sink.terminate()
            sink.wait(timeout=10)

    figures.update(
        harness_figures(),
        command=f"python bench/reminders.py --size {args.size} --day {args.day}"
        + (" --catch-up" if args.catch_up else "")
        + (f" --limit-sample {args.limit_sample}" if args.limit_sample != 2000 else ""),
    )
    rows = [
        (
            "generate hierarchy + deadline",
            f"{figures['generate_s']} s",
            f"{figures['units']} units, {figures['bound_units']} bound",
        ),
        ("Prefect harness start", f"{figures['harness_start_s']} s", ""),
        ("items due (ledger rows)", "", f"{figures['items']} {figures['by_kind']}"),
        ("compute + ledger + render + queue", f"{figures['queue_s']} s", f"{figures['letters']} digests"),
        (
            "delivery (SMTP)",
            f"{figures['deliver_s']} s",
            f"{figures['sent']} sent, {figures['retried']} retried, {figures['failed']} failed",
        ),
        (
            "whole flow run",
            f"{figures['flow_run_s']} s",
            f"{figures['messages_per_s']} messages/s, {figures['items_per_s']} items/s",
        ),
        (
            "second run, same day",
            f"{figures['second_run_s']} s",
            f"{figures['second_run_letters']} queued, {figures['second_run_sent']} sent",
        ),
        (
            "sink: stored / unique Message-IDs",
            "",
            f"{figures['sink_stored']} / {figures['sink_unique_message_ids']}",
        ),
    ]
    if "bare_1conn_per_s" in figures:
        rows.append(
            (
                "limit: bare aiosmtplib, 1 connection",
                "",
                f"{figures['bare_1conn_per_s']} letters/s (delivery at 1/{figures['ratio_to_limit']} of it)",
            )
        )
    title = (
        f"Reminder-day benchmark — {figures['bound_units']} units bound, day {args.day}; {figures['orchestration']}; "
        f"{figures['sink']}"
    )
    print_figures(title, figures, rows)


if __name__ == "__main__":
    main()
