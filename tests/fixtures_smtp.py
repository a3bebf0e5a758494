"""SMTP fixtures: a real aiosmtpd server on 127.0.0.1 (free port) that captures every letter, with
failure modes a test can switch on: refuse connections (stopped), answer 4xx/5xx, drop the connection
mid-letter, be slow; plus STARTTLS with a self-signed certificate and AUTH."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from notifications.sink import free_port

SMTP_USER = "thidua"
SMTP_PASSWORD = "mật-khẩu-thử"


@dataclass
class Captured:
    """One letter the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.SMTP).parsebytes(self.data)  # type: ignore[return-value]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class CapturingHandler:
    """aiosmtpd handler: keeps accepted letters in memory; failure modes are plain attributes."""

    captured: list[Captured] = field(default_factory=list)
    data_reply: Callable[[bytes], str | None] | None = None  # return an SMTP reply to refuse the letter
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address → reply at RCPT TO
    drop_every: int = 0  # close the connection instead of answering every n-th DATA
    delay: float = 0.0  # seconds to wait before answering DATA
    data_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        data = envelope.original_content or envelope.content
        with self.lock:
            self.data_count += 1
            drop = self.drop_every and self.data_count % self.drop_every == 0
        if drop:  # the peer vanishes before answering: the client cannot know whether we kept it
            server.transport.abort()
            return "421 4.4.2 connection dropped"
        if self.data_reply is not None:
            reply = self.data_reply(data)
            if reply:
                return reply
        with self.lock:
            self.captured.append(Captured(envelope.mail_from, list(envelope.rcpt_tos), bytes(data)))
        return "250 2.0.0 OK"


def busy_the_first_time(reply: str = "451 4.3.0 busy, try again later") -> Callable[[bytes], str | None]:
    """A `data_reply` that refuses each letter's first try (a temporary failure), then accepts it."""
    seen: set[bytes] = set()

    def answer(data: bytes) -> str | None:
        message_id = next(line for line in data.split(b"\r\n") if line.startswith(b"Message-ID:"))
        if message_id in seen:
            return None
        seen.add(message_id)
        return reply

    return answer


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that a test can stop (connection refused) and start again."""

    def __init__(self, *, port: int | None = None, **controller_kwargs: Any) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.handler = CapturingHandler()
        self.controller_kwargs = controller_kwargs
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(
            self.handler, hostname=self.host, port=self.port, **self.controller_kwargs
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def captured(self) -> list[Captured]:
        return list(self.handler.captured)

    def message_ids(self) -> Counter[str]:
        return Counter(c.message_id for c in self.captured)

    def settings(self, **overrides: Any):
        """Settings pointing the mailer at this server."""
        from models.settings import get_settings

        values = {"smtp_host": self.host, "smtp_port": self.port, "smtp_security": "none", **overrides}
        return get_settings().model_copy(update=values)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server capturing letters (no TLS, no AUTH)."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_env(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> SmtpServer:
    """Point THIDUA_SMTP_* at the capturing server (for code that reads the settings itself)."""
    from models.settings import reset_settings

    monkeypatch.setenv("THIDUA_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("THIDUA_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("THIDUA_SMTP_SECURITY", "none")
    reset_settings()
    return smtp_server


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1 and localhost, made with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "thidua test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    files = TlsFiles(cert=folder / "cert.pem", key=folder / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


def _authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == SMTP_USER
        and auth_data.password.decode() == SMTP_PASSWORD
    )
    return AuthResult(success=ok, handled=False)


def _certificate(tls_files: TlsFiles) -> ssl.SSLContext:
    """The server's side of the self-signed certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files.cert, tls_files.key)
    return context


def _demanding_auth(**tls: Any) -> Iterator[SmtpServer]:
    """A server that demands AUTH (SMTP_USER, SMTP_PASSWORD) with the `tls` options, stopped after the test."""
    server = SmtpServer(authenticator=_authenticator, auth_required=True, **tls).start()
    yield server
    server.stop()


@pytest.fixture
def smtp_tls_server(tls_files: TlsFiles) -> Iterator[SmtpServer]:
    """An SMTP server that demands STARTTLS (self-signed certificate) and AUTH before mail."""
    context = _certificate(tls_files)
    yield from _demanding_auth(tls_context=context, require_starttls=True, auth_require_tls=True)


@pytest.fixture
def smtp_ssl_server(tls_files: TlsFiles) -> Iterator[SmtpServer]:
    """An SMTP server on implicit TLS (port-465 style, self-signed certificate) that demands AUTH."""
    # aiosmtpd only counts STARTTLS as TLS; here the whole connection is TLS, so AUTH may be offered
    yield from _demanding_auth(ssl_context=_certificate(tls_files), auth_require_tls=False)
