"""The Prefect server as `thidua up` runs it: `python -m supervisor.prefect_server server start …` is
Prefect's own `prefect server start` (same arguments, same settings), with one change to how its SQLite
database takes writes.

Prefect 3.8.8 opens its server's write transactions on SQLite as `BEGIN DEFERRED`: a transaction reads,
then asks for the write lock. When another connection wrote in between, SQLite refuses at once
(`database is locked`: its busy timeout does not apply to that case), the API answers 503 and the client
backs off 2, 4, 8 … s; or two transactions wait on each other until the 60 s busy timeout Prefect sets
runs out, and the whole server stands still for that minute. Measured with `bench/surge.py` (60 empty
flow runs, 8 at once): 51 answers 503 on `POST /flow_runs/`, one request of 58.8 s, 1.63 s per run.

Here every transaction Prefect opens (`begin_transaction`) starts as `BEGIN IMMEDIATE`: it takes the write
lock first, so writers queue on the lock (the busy timeout) instead of failing, and none can hold a read
snapshot that a write then invalidates. Reads outside a transaction are untouched (WAL: readers never
wait). Same 60 runs: no 503, longest request 1.5 s, 0.22 s per run. PostgreSQL is not affected (the
change is on Prefect's SQLite configuration only).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


def immediate_sqlite_transactions() -> None:
    """Make Prefect's SQLite transactions take the write lock when they begin (`BEGIN IMMEDIATE`)."""
    from prefect.server.database import configurations

    @asynccontextmanager
    async def begin_transaction(self: Any, session: Any, with_for_update: bool = False) -> AsyncIterator[Any]:
        token = configurations.SQLITE_BEGIN_MODE.set("IMMEDIATE")
        try:
            async with session.begin() as transaction:
                yield transaction
        finally:
            configurations.SQLITE_BEGIN_MODE.reset(token)

    configurations.AioSqliteConfiguration.begin_transaction = begin_transaction  # type: ignore[method-assign]


def main() -> None:
    immediate_sqlite_transactions()
    from prefect.cli import app

    sys.argv[0] = "prefect"
    app()


if __name__ == "__main__":
    main()
