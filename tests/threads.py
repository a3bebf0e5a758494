"""Run the same call from several threads released at the same moment, for race tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def at_once(call: Callable[[], T], *, threads: int, timeout: float) -> tuple[list[T], list[BaseException]]:
    """Start `threads` threads that all pass one barrier and then `call()`; returns (results, errors)."""
    gate = threading.Barrier(threads)
    results: list[T] = []
    errors: list[BaseException] = []

    def one() -> None:
        gate.wait(timeout)
        try:
            results.append(call())
        except BaseException as exc:
            errors.append(exc)

    started = [threading.Thread(target=one) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join(timeout)
    return results, errors
