"""A local SMTP sink (hộp thư thử nghiệm): accepts every letter on 127.0.0.1 and keeps it in a Maildir,
so the default set-up needs no mail server. `thidua mail ls` reads what it caught.

    python -m notifications.sink [--host 127.0.0.1] [--port 8025] [--maildir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from models.settings import get_settings

SINK_HOSTNAME = "thidua-sink"


def ensure_maildir(path: Path) -> Path:
    """Create the Maildir folders (tmp, new, cur) if missing."""
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


class MaildirHandler:
    """aiosmtpd handler: every accepted letter becomes one file in `<maildir>/new` (tmp → rename)."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = ensure_maildir(Path(maildir))
        self.accepted = 0
        self._seq = itertools.count()
        self._tail = f"P{os.getpid()}.{socket.gethostname().replace('/', '_').replace(':', '_')}"

    def _store(self, *, sender: str, recipients: list[str], data: bytes) -> str:
        name = f"{time.time_ns()}.Q{next(self._seq)}{self._tail}"
        envelope = f"Return-Path: <{sender}>\nDelivered-To: {', '.join(recipients)}\n".encode(
            "ascii", "replace"
        )
        tmp = self.maildir / "tmp" / name
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            os.write(fd, envelope + data.replace(b"\r\n", b"\n"))
        finally:
            os.close(fd)
        os.rename(tmp, self.maildir / "new" / name)
        return name

    async def handle_DATA(self, server, session, envelope) -> str:
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        name = self._store(sender=envelope.mail_from or "", recipients=list(envelope.rcpt_tos), data=data)
        self.accepted += 1
        return f"250 2.0.0 OK queued as {name}"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_sink(
    *, host: str = "127.0.0.1", port: int | None = None, maildir: Path | None = None
) -> Controller:
    """Start the sink in a background thread; `.stop()` it when done. Port 0 picks a free one."""
    settings = get_settings()
    port = settings.sink_port if port is None else port
    if port == 0:
        port = free_port(host)
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    handler = MaildirHandler(Path(maildir) if maildir else settings.maildir)
    controller = Controller(
        handler, hostname=host, port=port, server_hostname=SINK_HOSTNAME, data_size_limit=50 * 1024 * 1024
    )
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> None:
    """Run the sink until Ctrl-C or SIGTERM."""
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m notifications.sink", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.sink_port)
    parser.add_argument("--maildir", type=Path, default=settings.maildir)
    args = parser.parse_args(argv)
    controller = start_sink(host=args.host, port=args.port, maildir=args.maildir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"SMTP sink on {args.host}:{controller.port}, Maildir {args.maildir}", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
