"""Settings (cấu hình) from the environment, prefix THIDUA_; one accessor for the whole app."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TIMEZONE = "Asia/Ho_Chi_Minh"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "thidua"


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting must never echo its value (passwords, URLs with passwords)
    model_config = SettingsConfigDict(
        env_prefix="THIDUA_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    env: Literal["development", "production"] = "development"
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_ca_file: Path | None = None
    smtp_validate_certs: bool = True
    smtp_timeout: float = 30.0
    smtp_concurrency: int = 8
    smtp_batch_size: int = 500
    mail_from: str = "Hội đồng Thi đua – Khen thưởng <thidua@example.gov.vn>"

    prefect_port: int = 4200
    sink_port: int = 8025
    ui_auth: SecretStr | None = None  # "user:password" for the Prefect server's basic auth

    # the council portal (`thidua portal`, started by `thidua up`)
    portal_port: int = 8000
    portal_tls: bool = False  # behind a TLS reverse proxy: the session cookie gets `Secure`
    portal_idle_minutes: int = Field(default=30, gt=0)
    portal_absolute_hours: int = Field(default=12, gt=0)
    portal_lockout_failures: int = Field(default=5, gt=0)  # per account
    portal_lockout_address_failures: int = Field(default=20, gt=0)  # per address
    portal_lockout_minutes: int = Field(default=15, gt=0)
    # the portal's address as officials reach it (e.g. https://thidua.thanhhoa.gov.vn): artifacts link
    # each paper to its download page there; unset, they give the `thidua docs get` command only
    portal_url: str | None = None
    # Argon2id cost of a password (OWASP's recommended m=19 MiB, t=2, p=1: about 30 ms of one core; the
    # library's default, 64 MiB x 3 passes x 4 lanes, took 0.2-0.4 s of both cores of a 2-core server and
    # stalled every page while 50 officials logged in). Stored hashes are redone at their next login.
    portal_argon2_time_cost: int = Field(default=2, ge=1)
    portal_argon2_memory_kib: int = Field(default=19_456, ge=8_192)
    portal_argon2_parallelism: int = Field(default=1, ge=1)

    reminder_offsets: list[int] = [14, 7, 3, 1, 0]
    escalation_days: list[int] = [1, 3, 5]

    # Files officials send (models/sheets.py) and one intake batch: what a file may cost before it is refused.
    file_max_rows: int = Field(default=20_000, gt=0)  # data rows in one file or batch
    file_max_bytes: int = Field(default=32 * 2**20, gt=0)  # size on disk
    xlsx_max_entries: int = Field(default=500, gt=0)  # members of the XLSX (zip) archive
    xlsx_max_unpacked_bytes: int = Field(default=128 * 2**20, gt=0)  # all members inflated, together
    xlsx_max_ratio: int = Field(default=100, gt=0)  # inflated size / packed size of any one member

    # Documents (documents/): a province's own DOCX templates (files missing there fall back to the
    # defaults), and the cash reward printed in a decision, by award form and nominee kind, in VND
    # (e.g. {"giay-khen-xa": {"individual": 351000, "collective": 702000}}); a form not listed has none.
    document_templates: Path | None = None
    document_cash_rewards: dict[str, dict[str, int]] = {}

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'thidua.db'}"

    @property
    def prefect_home(self) -> Path:
        return self.data_dir / "prefect"

    @property
    def maildir(self) -> Path:
        return self.data_dir / "mail"

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production":
            if self.effective_database_url.startswith("sqlite"):
                raise ValueError(
                    "THIDUA_ENV=production cần THIDUA_DATABASE_URL trỏ tới PostgreSQL, không dùng SQLite"
                )
            if self.smtp_username and self.smtp_security == "none":
                raise ValueError(
                    "THIDUA_ENV=production: tài khoản SMTP (THIDUA_SMTP_USERNAME) không được gửi khi "
                    "chưa mã hóa; đặt THIDUA_SMTP_SECURITY=starttls hoặc ssl"
                )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and `thidua up` change the environment)."""
    get_settings.cache_clear()
