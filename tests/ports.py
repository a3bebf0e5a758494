"""Ports for the servers the tests start, chosen below Linux's ephemeral range (32768–60999).

A port found free by binding port 0 comes from the ephemeral range, which every outgoing connection
draws from too: in the seconds before `thidua up` binds it, a client of another test (another pytest-xdist
worker's Prefect server, say) may take it. Each worker draws from its own slice below that range."""

from __future__ import annotations

import os
import random
import socket

FIRST, SLICE = 20000, 1500  # 20000–31999: up to 8 workers


def _slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw-1")  # "gw0", "gw1", …; no xdist: the last slice
    index = int(worker.removeprefix("gw")) % 8 if worker != "gw-1" else 7
    start = FIRST + index * SLICE
    return range(start, start + SLICE)


def _free(port: int, host: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct TCP ports nobody listens on now, from this worker's slice."""
    span = _slice()
    candidates = random.sample(span, count * 20)
    ports = [p for p in candidates if _free(p, host)][:count]
    if len(ports) < count:
        raise RuntimeError(f"no {count} free ports in {span.start}–{span.stop - 1}")
    return sorted(ports)
