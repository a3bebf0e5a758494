"""The benchmarks keep working (marked bench): each runs at a small size as the README says,
`python bench/<name>.py --size N`, and must end with one line of JSON whose figures show the work was
done — every letter delivered once, a second run sending nothing. Speeds are not asserted here: they
belong in the closing notes, measured at full size on a quiet machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.bench


def _bench(name: str, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "THIDUA_"))}
    done = subprocess.run(
        [sys.executable, f"bench/{name}.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) > 2, done.stdout  # a readable table before the JSON
    return json.loads(lines[-1])


def test_intake_benchmark_screens_and_stores_every_row() -> None:
    figures = _bench("intake", "--size", "300")
    (sqlite,) = figures["results"]
    assert sqlite["rows"] == 300 and sqlite["units"] > 10_000
    assert sqlite["intake_rows_per_s"] > 0 and sqlite["bulk_rows_per_s"] > 0


def test_mail_benchmark_delivers_each_letter_once() -> None:
    figures = _bench("mail_delivery", "--size", "200", "--bare-size", "100")
    assert figures["sent"] == figures["sink_stored"] == figures["sink_unique_message_ids"] == 200
    assert figures["failed"] == 0 and figures["second_run_sent"] == 0


def test_reminder_benchmark_sends_a_day_once() -> None:
    figures = _bench("reminders", "--size", "400", "--limit-sample", "100")
    assert (
        figures["letters"] > 0 and figures["sent"] == figures["letters"] == figures["sink_unique_message_ids"]
    )
    assert figures["second_run_sent"] == 0 and figures["second_run_items"] == 0


def test_documents_benchmark_makes_each_meetings_papers_once() -> None:
    figures = _bench("documents", "--size", "80")
    assert figures["meetings"] == 2 and figures["decisions"] == 2  # each meeting, then its head's decision
    assert figures["documents"] == 8  # per meeting its minutes, letter and list; per decision its paper
    assert figures["rerun_documents"] == 8 and figures["documents_per_s"] > 0
    assert figures["plain_documents_per_s"] > 0


def test_portal_benchmark_serves_every_page_without_error() -> None:
    figures = _bench("portal_load", "--users", "3", "--seconds", "5", "--size", "200")
    assert figures["errors"] == 0 and figures["requests"] > 3 * 3
    assert {"login", "inbox", "dossier", "meeting"} <= set(figures["pages"])
    assert figures["pages"]["inbox"]["floor_p50_ms"] > 0


def test_surge_benchmark_confers_every_dossier_on_both_paths_with_no_server_error() -> None:
    """The surge through every level, direct and through the flows against the Prefect server as
    `thidua up` runs it, then Prefect's floor with the same runs, task runs and events."""
    figures = _bench("surge", "--size", "24", "--shape", "1,2,2", "--concurrency", "4")
    assert figures["conferred"] == figures["direct_conferred"] == 24
    assert figures["steps"] == figures["direct_steps"] and figures["levels"] >= 4
    flows, floor = figures["flows"], figures["floor"]
    assert flows["flow_runs"] > 10 and flows["task_runs"] > 0 and flows["events"] > 0
    assert (floor["flow_runs"], floor["task_runs"], floor["events"]) == (
        flows["flow_runs"],
        flows["task_runs"],
        flows["events"],
    )
    assert flows["server_errors"] == floor["server_errors"] == 0  # Prefect as shipped answered 503s here


def test_latency_benchmark_brings_each_meetings_dossiers_to_the_next_inbox() -> None:
    """`thidua up`, one meeting opened and decided from the CLI, its dossiers under review at the province."""
    figures = _bench("latency", "--size", "1")
    assert figures["reached_inbox"] == 2
    inbox = figures["inbox_s"]["median"]
    parts = sum(p["median"] for p in figures["inbox_parts_s"].values())
    assert 0 < parts <= inbox + 1.0, figures  # the parts are read from the runs' own times
    assert 0 < figures["open_s"]["median"] and figures["baseline_cli_s"] > 0
