"""What a process pays before it does any work: each flow's run process up to its first line, and the
read-only `thidua` commands, measured in one run beside `python -c pass` and a bare `import prefect`.

A flow-run process in a new interpreter (`python -m prefect.engine`, one per run under Prefect's own
worker) imports Prefect's engine and then the flow's entrypoint; that is measured here as
`load_flow_from_entrypoint`, what the engine calls. Under `thidua up` and thidua's warm worker a run is
forked from a process that imported all of it once (supervisor/warm.py): the ", forked" rows, the
same step in such a child. "Prefect's floor" is the same for an empty async flow with one parameter.
Each case runs `--repeat` times in a fresh interpreter; the table shows the least CPU (user + sys of
the child) and the least wall time, which are the least disturbed by other work on the machine.

    python bench/startup.py [--repeat 3]

Aims (issue 16): a flow-run process's CPU before its first line ≤ 1.5× `import prefect`; read-only
commands under 1 s of wall time on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import isolated_environment  # noqa: E402

FLOWS = {
    "intake": "flows/intake.py:intake",
    "council-meeting": "flows/council.py:council_meeting",
    "receive-forwarded": "flows/council.py:receive_forwarded",
    "deadline-reminders": "flows/deadlines.py:deadline_reminders",
    "dashboard": "flows/dashboard.py:dashboard",
    "deliver-mail": "flows/delivery.py:deliver_mail",
}
FLOOR_FLOW = """
from prefect import flow

@flow(name="empty")
async def empty(on: str | None = None) -> None:
    return None
"""
COMMANDS = {
    "status": ["status", "{code}"],
    "inbox": ["inbox", "thanh-hoa"],
    "units": ["units", "cam thach"],
    "mail ls": ["mail", "ls"],
    "report status": ["report", "status", "--year", "2025"],
}
RECEIVED = date(2026, 11, 23)


def measure(argv: list[str], *, repeat: int, cwd: Path = ROOT) -> dict:
    """Least CPU and wall seconds of `argv` over `repeat` fresh processes (it must succeed)."""
    cpu, wall = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        wall.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
        cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return {"cpu_s": round(min(cpu), 3), "wall_s": round(min(wall), 3)}


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def load_entrypoint(entrypoint: str) -> list[str]:
    """What `python -m prefect.engine` does before the flow's first line: its imports, then the flow."""
    return python(
        "import prefect.engine\n"
        "from prefect.flows import load_flow_from_entrypoint\n"
        f"load_flow_from_entrypoint({entrypoint!r})"
    )


def _first_line_cpu(entrypoint: str, out: str) -> None:
    """In a run forked from the warm process: what the run does before the flow's first line (find its
    flow), then this process's CPU since the fork."""
    from prefect.flows import load_flow_from_entrypoint

    load_flow_from_entrypoint(entrypoint)
    times = os.times()
    Path(out).write_text(str(times.user + times.system), encoding="utf-8")


def forked(entrypoints: dict[str, str], *, repeat: int, tmp: Path) -> dict[str, dict]:
    """Each flow's run as `thidua up` and the warm worker start it (supervisor/warm.py): a child of the fork
    server, which has imported Prefect's engine and every flow module. CPU is the child's own (a fork's
    counters start at zero); wall is from asking for the process to its end."""
    import importlib

    from supervisor.warm import WarmContext, fork_flow_runs

    def flow(entrypoint: str) -> object:
        path, name = entrypoint.split(":")
        return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)

    fork_flow_runs(flow(entrypoint) for entrypoint in entrypoints.values())
    context = WarmContext()
    rows = {}
    for name, entrypoint in entrypoints.items():
        cpu, wall = [], []
        for n in range(repeat + 1):  # the first waits for the fork server's own imports: not counted
            out = tmp / f"forked-{name}-{n}"
            t = time.perf_counter()
            process = context.Process(target=_first_line_cpu, args=(entrypoint, str(out)))
            process.start()
            process.join(120)
            if process.exitcode != 0:
                raise RuntimeError(f"forked run of {entrypoint} failed: exit code {process.exitcode}")
            if n:
                wall.append(time.perf_counter() - t)
                cpu.append(float(out.read_text(encoding="utf-8")))
        rows[f"flow {name}, forked"] = {"cpu_s": round(min(cpu), 3), "wall_s": round(min(wall), 3)}
    return rows


def app_database() -> str:
    """Sample units and councils with the demo's nominations, for the commands to read; one code."""
    from flows.intake import intake_batch, numbered
    from models.db import dispose_engines, session_scope

    thidua = [sys.executable, "-m", "cli.app"]
    for command in (["db", "upgrade"], ["sample", "load"]):
        subprocess.run(thidua + command, cwd=ROOT, check=True, capture_output=True)
    from cli.demo import demo_rows

    with session_scope() as session:
        result = intake_batch(
            session=session, rows=numbered(demo_rows()), source="bench", received_on=RECEIVED
        )
        code = result.nominations[0]["code"]
    dispose_engines()
    return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per case (least is kept)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="thidua-startup-"))
    try:
        isolated_environment(tmp)
        (tmp / "floor").mkdir()
        (tmp / "floor" / "empty_flow.py").write_text(FLOOR_FLOW, encoding="utf-8")
        code = app_database()
        load_before = os.getloadavg()[0]
        rows: dict[str, dict] = {}
        rows["python -c pass"] = measure(python("pass"), repeat=args.repeat)
        rows["import prefect"] = measure(python("import prefect"), repeat=args.repeat)
        rows["Prefect's floor (empty flow)"] = measure(
            load_entrypoint(str(tmp / "floor" / "empty_flow.py") + ":empty"), repeat=args.repeat
        )
        for name, entrypoint in FLOWS.items():
            rows[f"flow {name}"] = measure(load_entrypoint(entrypoint), repeat=args.repeat)
        rows |= forked(FLOWS, repeat=args.repeat, tmp=tmp)
        rows["CLI floor (typer, rich, SQLModel)"] = measure(
            python("import typer, rich.console, sqlmodel, models.settings"), repeat=args.repeat
        )
        rows["import cli.app"] = measure(python("import cli.app"), repeat=args.repeat)
        for name, argv in COMMANDS.items():
            command = [sys.executable, "-m", "cli.app", *(a.format(code=code) for a in argv)]
            rows[f"thidua {name}"] = measure(command, repeat=args.repeat)
        load_after = os.getloadavg()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    prefect_cpu = rows["import prefect"]["cpu_s"]
    for figures in rows.values():
        figures["x_import_prefect"] = round(figures["cpu_s"] / prefect_cpu, 2)
    print(
        f"\nStart-up costs, least of {args.repeat} fresh processes (load average {load_before:.1f} → {load_after:.1f})\n"
    )
    print(f"{'case':<36} {'CPU s':>7} {'wall s':>7} {'CPU / import prefect':>21}")
    for name, figures in rows.items():
        print(
            f"{name:<36} {figures['cpu_s']:>7.2f} {figures['wall_s']:>7.2f} {figures['x_import_prefect']:>21.2f}"
        )
    flows = {k: v for k, v in rows.items() if k.startswith("flow ") and not k.endswith(", forked")}
    forks = {k: v for k, v in rows.items() if k.endswith(", forked")}
    worst_fork = max(v["x_import_prefect"] for v in forks.values())
    commands = {k: v for k, v in rows.items() if k.startswith("thidua ")}
    worst_flow = max(v["x_import_prefect"] for v in flows.values())
    slowest_command = max(v["wall_s"] for v in commands.values())
    print(
        f"\nflow-run process before the first line: at most {worst_flow:.2f}× import prefect in a new "
        f"interpreter, {worst_fork:.2f}× forked from the warm process (aim ≤ 1.5×); "
        f"slowest read-only command {slowest_command:.2f} s (aim < 1 s on an idle machine)"
    )
    print(f"command: python bench/startup.py --repeat {args.repeat}")
    print(
        json.dumps(
            {
                "benchmark": "startup",
                "repeat": args.repeat,
                "load_average": [round(load_before, 2), round(load_after, 2)],
                "cases": rows,
                "worst_flow_x_import_prefect": worst_flow,
                "worst_forked_flow_x_import_prefect": worst_fork,
                "slowest_command_wall_s": slowest_command,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
