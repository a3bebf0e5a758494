"""A flow for tests/test_warm.py: it writes down the process it ran in and what was imported there."""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path

from prefect import flow


@flow(name="warm-probe")
def probe(out: str, on: date) -> str:
    """`on` is a date annotation that only the module's globals resolve (the first version pickled the
    flow by value, and pydantic could not resolve it in the child)."""
    Path(out).write_text(
        json.dumps(
            {"pid": os.getpid(), "ppid": os.getppid(), "council_imported": "flows.council" in sys.modules}
        ),
        encoding="utf-8",
    )
    return on.isoformat()


def sleep_then_write(out: str, seconds: float) -> None:
    """A run's process that outlives its fork server (tests/test_warm.py)."""
    import time

    time.sleep(seconds)
    Path(out).write_text("done", encoding="utf-8")
