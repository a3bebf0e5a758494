"""Benchmark: render, queue and deliver N letters through the `deliver-mail` flow to a local aiosmtpd sink.

    .venv/bin/python bench/mail_delivery.py [--size 10000] [--concurrency 8] [--bare-size 5000]

Measures, in one run and on the same machine:
  1. render + queue N letters (`enqueue_many`, report reminders with an .ics each);
  2. the limit: the sink's acceptance rate under a bare aiosmtplib loop sending pre-composed letters
     (one connection, then `--concurrency` connections), to a second sink process of the same code;
  3. one `deliver-mail` flow run (Prefect test harness: a temporary local API server) delivering all N;
  4. the same flow again, which must send 0; and checks the sink holds N letters, each Message-ID once.
Prints a table, then ONE line of JSON with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import check_maildir, harness_figures, isolated_environment, print_figures, start_sink, use_sink  # noqa: E402


def _seed_registry(url: str, *, units: int) -> list[str]:
    from sqlmodel import Session

    from models.db import create_all_for_tests, get_engine
    from models.units import Level, Unit

    create_all_for_tests(url)  # a throwaway database
    addresses = [f"chutich.xa{i}@thanhhoa.gov.vn" for i in range(units)]
    with Session(get_engine(url)) as session:
        session.add_all(
            Unit(
                code=f"bench.xa-{i}",
                name=f"xã Số {i}",
                name_key=f"xa so {i}",
                level=Level.commune,
                email=f"vanphong.xa{i}@thanhhoa.gov.vn",
                head_name=f"Chủ tịch UBND xã Số {i}",
                head_email=address,
            )
            for i, address in enumerate(addresses)
        )
        session.commit()
    return addresses


def _queue(url: str, *, size: int, addresses: list[str]) -> tuple[float, float]:
    from sqlmodel import Session

    from models.db import get_engine
    from notifications.outbox import MailItem, enqueue_many

    base = {
        "signed_by": "Thường trực Hội đồng Thi đua – Khen thưởng tỉnh Thanh Hóa",
        "report_name": "Báo cáo kết quả thực hiện phong trào «Chung sức xây dựng nông thôn mới» năm 2026",
        "submit_to": "Văn phòng Điều phối nông thôn mới tỉnh Thanh Hóa",
        "due_date": date(2026, 11, 30),
        "as_of": date(2026, 11, 23),
    }
    items = [
        MailItem(
            key=f"report-reminder:ntm-2026:xa-{i}:2026:7",
            to_email=addresses[i % len(addresses)],
            to_name=f"Chủ tịch UBND xã Số {i}",
            template="report_reminder",
            context={**base, "obligation_id": f"report:ntm-2026:xa-{i}:2026", "unit_name": f"UBND xã Số {i}"},
        )
        for i in range(size)
    ]
    started, cpu = time.perf_counter(), time.process_time()
    with Session(get_engine(url)) as session:
        created = enqueue_many(session=session, items=items).created
        session.commit()
    assert len(created) == size
    return time.perf_counter() - started, time.process_time() - cpu


def _composed(url: str, *, count: int) -> list[tuple[str, bytes]]:
    from sqlalchemy import select
    from sqlmodel import Session

    from models.db import get_engine
    from models.settings import get_settings
    from notifications.mailer import letter_bytes
    from notifications.mime import parse_sender
    from notifications.outbox import OutboxMessage

    sender = parse_sender(get_settings().mail_from)
    with Session(get_engine(url)) as session:
        rows = session.execute(select(OutboxMessage).order_by(OutboxMessage.id).limit(count)).scalars()
        return [(row.to_email, letter_bytes(row, sender=sender)) for row in rows]


async def _bare_loop(*, port: int, letters: list[tuple[str, bytes]], connections: int) -> float:
    """The limit: pre-composed letters, aiosmtplib only, no database; letters/s."""
    import aiosmtplib

    chunks = [letters[i::connections] for i in range(connections)]

    async def one(chunk: list[tuple[str, bytes]]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for to, raw in chunk:
            await client.sendmail("thidua@example.gov.vn", [to], raw)
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(one(chunk) for chunk in chunks))
    return len(letters) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument(
        "--concurrency", type=int, default=8, help="SMTP connections (THIDUA_SMTP_CONCURRENCY)"
    )
    parser.add_argument("--bare-size", type=int, default=5000, help="letters for each bare-loop measurement")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="thidua-bench-mail-"))
    url = isolated_environment(workdir, THIDUA_SMTP_CONCURRENCY=str(args.concurrency))
    figures: dict[str, object] = {"size": args.size, "concurrency": args.concurrency}
    sinks: list[subprocess.Popen[str]] = []
    try:
        addresses = _seed_registry(url, units=min(args.size, 3000))
        queue_s, queue_cpu_s = _queue(url, size=args.size, addresses=addresses)
        figures["queue_s"], figures["queue_cpu_s"] = round(queue_s, 2), round(queue_cpu_s, 2)
        figures["queue_per_s"] = round(args.size / figures["queue_s"])  # type: ignore[operator]

        bare_sink, bare_port = start_sink(maildir=workdir / "bare-mail")
        sinks.append(bare_sink)
        letters = _composed(url, count=min(args.bare_size, args.size))
        figures["bare_letters"] = len(letters)
        figures["bare_1conn_per_s"] = round(
            asyncio.run(_bare_loop(port=bare_port, letters=letters, connections=1))
        )
        figures[f"bare_{args.concurrency}conn_per_s"] = round(
            asyncio.run(_bare_loop(port=bare_port, letters=letters, connections=args.concurrency))
        )
        limit = max(figures["bare_1conn_per_s"], figures[f"bare_{args.concurrency}conn_per_s"])  # type: ignore[type-var]

        sink, port = start_sink(maildir=workdir / "mail")
        sinks.append(sink)
        use_sink(port)
        from prefect.testing.utilities import prefect_test_harness

        started = time.perf_counter()
        with prefect_test_harness(server_startup_timeout=300):
            figures["harness_start_s"] = round(time.perf_counter() - started, 1)
            from flows.delivery import deliver_mail

            started, cpu = time.perf_counter(), time.process_time()
            first = asyncio.run(deliver_mail())
            figures["flow_run_s"] = round(time.perf_counter() - started, 2)
            figures["flow_cpu_ms_per_letter"] = round(
                (time.process_time() - cpu) * 1000 / max(first.sent, 1), 2
            )
            started = time.perf_counter()
            second = asyncio.run(deliver_mail())
            figures["second_run_s"] = round(time.perf_counter() - started, 2)
        figures.update(
            sent=first.sent,
            retried=first.retried,
            failed=first.failed,
            deliver_s=round(first.elapsed, 2),
            deliver_per_s=round(first.rate),
            flow_per_s=round(first.sent / figures["flow_run_s"]),  # type: ignore[operator]
            limit_per_s=limit,
            ratio_to_limit=round(limit / first.rate, 2) if first.rate else None,  # type: ignore[operator]
            second_run_sent=second.sent,
        )
        stored, unique = check_maildir(workdir / "mail")
        figures.update(sink_stored=stored, sink_unique_message_ids=unique)
    finally:
        for process in sinks:
            process.terminate()
            process.wait(timeout=10)

    figures.update(
        harness_figures(),
        command=f"python bench/mail_delivery.py --size {args.size} --concurrency {args.concurrency}",
    )
    rows = [
        (
            "render + queue",
            f"{figures['queue_s']} s",
            f"{figures['queue_per_s']} letters/s (CPU {figures['queue_cpu_s']} s)",
        ),
        ("bare aiosmtplib, 1 connection", "", f"{figures['bare_1conn_per_s']} letters/s"),
        (
            f"bare aiosmtplib, {args.concurrency} connections",
            "",
            f"{figures[f'bare_{args.concurrency}conn_per_s']} letters/s",
        ),
        ("deliver-mail: delivery", f"{figures['deliver_s']} s", f"{figures['deliver_per_s']} letters/s"),
        (
            "deliver-mail: whole flow run",
            f"{figures['flow_run_s']} s",
            f"{figures['flow_per_s']} letters/s (CPU {figures['flow_cpu_ms_per_letter']} ms/letter)",
        ),
        ("limit / ours", "", f"{figures['ratio_to_limit']}×"),
        ("sent / retried / failed", "", f"{first.sent} / {first.retried} / {first.failed}"),
        ("second run sent", f"{figures['second_run_s']} s", str(second.sent)),
        ("sink: stored / unique Message-IDs", "", f"{stored} / {unique}"),
        ("Prefect harness start", f"{figures['harness_start_s']} s", ""),
    ]
    title = f"Mail delivery benchmark — {args.size} letters, {figures['orchestration']}; {figures['sink']}"
    print_figures(title, figures, rows)


if __name__ == "__main__":
    main()
