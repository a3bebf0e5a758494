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


def caches_seen(out: str) -> None:
    """What a run forked from the warm process finds filled (tests/test_warm.py): the unit tree the fork
    server read (the very object, not read again), Prefect's shared TLS contexts, compiled templates,
    the working-day calendar."""
    import prefect.client.orchestration as orchestration
    from sqlmodel import Session

    from documents.render import _environment
    from models import hierarchy
    from models.calendar import _working_ordinals
    from models.db import get_engine

    inherited = [tree for _, tree in hierarchy._CACHE.values()]
    with Session(get_engine()) as session:
        tree = hierarchy.Hierarchy.load(session)
    Path(out).write_text(
        json.dumps(
            {
                "tree_inherited": any(tree is old for old in inherited),
                "units": len(tree),
                "tls_shared": type(orchestration.ssl).__name__ == "SharedTLSContexts"
                and len(orchestration.ssl._contexts) == 1,  # built there, before any client
                "templates_compiled": len(_environment()._compiled),
                "years_built": _working_ordinals.cache_info().currsize,
                "docxtpl_imported": "docxtpl" in sys.modules,
            }
        ),
        encoding="utf-8",
    )
