"""Portal accounts (tài khoản cổng Hội đồng): users of one unit with one role, their sessions kept in the
database (so logout and disabling a user end them at once), and login attempts for throttling.

Passwords are hashed with Argon2id (argon2-cffi) and never stored, logged or shown. A session's ID is
random (`secrets.token_urlsafe(32)`); the database keeps only its SHA-256, so a copy of the table does
not let anyone in. Every function takes a session and never commits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, Index, UniqueConstraint, delete, func, select
from sqlmodel import Field, Session, SQLModel, col

from models.clock import utcnow
from models.db import UTCDateTime, enum_type
from models.hierarchy import AmbiguousUnit, Hierarchy, UnitNotFound
from models.labelled import LabelledEnum
from models.text import nfc


class Role(LabelledEnum):
    # thư ký / thường trực Hội đồng: nộp hồ sơ, mở phiên họp, ghi biên bản, báo cáo
    secretary = "secretary", "thư ký Hội đồng"
    chair = "chair", "chủ tịch Hội đồng"  # xác nhận biên bản
    registry = "registry", "văn thư"  # ghi số, ngày quyết định
    operator = "operator", "cán bộ thi đua tỉnh"  # cơ quan thi đua của tỉnh: xem cả tỉnh, hủy phiên họp kẹt
    admin = "admin", "quản trị"


MIN_PASSWORD = 10
MAX_PASSWORD = 200


class PortalUser(SQLModel, table=True):
    __tablename__ = "portal_user"
    __table_args__ = (UniqueConstraint("username", name="uq_portal_user_username"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=200)
    unit_id: int = Field(foreign_key="unit.id")
    role: Role = Field(sa_type=enum_type(Role))
    password_hash: str = Field(max_length=255)
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    password_changed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )

    @property
    def shown_name(self) -> str:
        return self.display_name or self.username

    @property
    def actor(self) -> str:
        """How a step names this user: «Nguyễn Văn An (tk.camthach)»."""
        return f"{self.shown_name} ({self.username})" if self.display_name else self.username


class PortalSession(SQLModel, table=True):
    __tablename__ = "portal_session"
    __table_args__ = (Index("ix_portal_session_user", "user_id"),)

    id: str = Field(primary_key=True, max_length=64, description="SHA-256 of the cookie's session ID")
    user_id: int = Field(foreign_key="portal_user.id")
    csrf_token: str = Field(max_length=64)
    address: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_seen: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class LoginAttempt(SQLModel, table=True):
    __tablename__ = "portal_login_attempt"
    __table_args__ = (
        Index("ix_portal_login_user_at", "username", "at"),
        Index("ix_portal_login_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    address: str = Field(default="", max_length=64)
    ok: bool = False
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class AccountError(ValueError):
    """A refusal in words for the official (Vietnamese)."""


class LoginRefused(AccountError):
    pass


@dataclass(frozen=True)
class Policy:
    """Session and throttling limits (from settings: THIDUA_PORTAL_*)."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    failures_per_account: int = 5
    failures_per_address: int = 20
    lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls) -> Policy:
        from models.settings import get_settings

        s = get_settings()
        return cls(
            idle=timedelta(minutes=s.portal_idle_minutes),
            absolute=timedelta(hours=s.portal_absolute_hours),
            failures_per_account=s.portal_lockout_failures,
            failures_per_address=s.portal_lockout_address_failures,
            lockout=timedelta(minutes=s.portal_lockout_minutes),
        )


@lru_cache(maxsize=4)
def _hasher_for(time_cost: int, memory_kib: int, parallelism: int) -> tuple[PasswordHasher, str]:
    """The hasher for these costs, and a hash to verify against when the user does not exist (the answer
    takes as long either way)."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    return hasher, hasher.hash(secrets.token_urlsafe(16))


def _hasher() -> tuple[PasswordHasher, str]:
    from models.settings import get_settings

    s = get_settings()
    return _hasher_for(s.portal_argon2_time_cost, s.portal_argon2_memory_kib, s.portal_argon2_parallelism)


def hash_password(password: str) -> str:
    return _hasher()[0].hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether `password` is the one behind `stored_hash` (None: no such user, checked as long anyway)."""
    hasher, dummy = _hasher()
    try:
        return hasher.verify(stored_hash or dummy, password) and bool(stored_hash)
    except (VerificationError, InvalidHashError):
        return False


def check_new_password(password: str, *, username: str = "") -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"mật khẩu dài quá {MAX_PASSWORD} ký tự")
    if username and password.casefold() == username.casefold():
        raise AccountError("mật khẩu không được trùng tên đăng nhập")


def normalize_username(username: str) -> str:
    name = nfc(username).strip().lower()
    if not name or len(name) > 64 or not all(c.isascii() and (c.isalnum() or c in "._-") for c in name):
        raise AccountError("tên đăng nhập chỉ gồm chữ không dấu, số và . _ - (tối đa 64 ký tự)")
    return name


def by_username(session: Session, username: str) -> PortalUser | None:
    return session.scalars(
        select(PortalUser).where(col(PortalUser.username) == nfc(username).strip().lower())
    ).first()


def add_user(
    *,
    session: Session,
    username: str,
    unit: str,
    role: Role | str,
    password: str,
    display_name: str = "",
    hierarchy: Hierarchy | None = None,
) -> PortalUser:
    name = normalize_username(username)
    if by_username(session, name) is not None:
        raise AccountError(f"tên đăng nhập «{name}» đã có")
    try:
        role = Role(role)
    except ValueError:
        raise AccountError("vai trò phải là một trong: " + ", ".join(r.value for r in Role)) from None
    hierarchy = hierarchy or Hierarchy.load(session)
    try:
        target = hierarchy.resolve(unit)
    except (UnitNotFound, AmbiguousUnit) as exc:
        raise AccountError(str(exc)) from None
    check_new_password(password, username=name)
    user = PortalUser(
        username=name,
        display_name=nfc(display_name).strip()[:200],
        unit_id=target.id,
        role=role,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def set_password(*, session: Session, user: PortalUser, password: str) -> None:
    """A new password; every session of the user ends (the caller logs the current one in again)."""
    check_new_password(password, username=user.username)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    session.add(user)
    end_sessions(session=session, user_id=_id(user))


def set_disabled(*, session: Session, user: PortalUser, disabled: bool = True) -> None:
    user.disabled = disabled
    session.add(user)
    if disabled:
        end_sessions(session=session, user_id=_id(user))


def end_sessions(*, session: Session, user_id: int) -> int:
    result = session.execute(delete(PortalSession).where(col(PortalSession.user_id) == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def _id(user: PortalUser) -> int:
    if user.id is None:
        session_error = "tài khoản chưa được lưu"
        raise AccountError(session_error)
    return user.id


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _failures(session: Session, column: object, value: str, since: datetime) -> tuple[int, datetime | None]:
    """Failed attempts since the last success (and since `since`) for one account or address."""
    last_ok = session.scalar(
        select(func.max(col(LoginAttempt.at))).where(column == value, col(LoginAttempt.ok))  # type: ignore[arg-type]
    )
    start = max(since, last_ok) if last_ok else since
    count, latest = session.execute(
        select(func.count(col(LoginAttempt.id)), func.max(col(LoginAttempt.at))).where(
            column == value,  # type: ignore[arg-type]
            col(LoginAttempt.ok).is_(False),
            col(LoginAttempt.at) > start,
        )
    ).one()
    return int(count), latest


def locked_until(
    *, session: Session, username: str, address: str, policy: Policy, now: datetime | None = None
) -> datetime | None:
    """When a login for this account or from this address may be tried again, if it is locked now."""
    now = now or utcnow()
    since = now - policy.lockout
    until = None
    for column, value, limit in (
        (col(LoginAttempt.username), username, policy.failures_per_account),
        (col(LoginAttempt.address), address, policy.failures_per_address),
    ):
        if not value:
            continue
        count, latest = _failures(session, column, value, since)
        if count >= limit and latest is not None:
            end = _aware(latest) + policy.lockout
            until = max(until, end) if until else end
    return until


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class NewSession:
    token: str  # for the cookie only; the database keeps its digest
    csrf_token: str
    user: PortalUser


def login(
    *,
    session: Session,
    username: str,
    password: str,
    address: str,
    policy: Policy,
    now: datetime | None = None,
) -> NewSession:
    """Check the password and open a new session (a new ID every time: no fixation). Raises LoginRefused."""
    now = now or utcnow()
    name = nfc(username).strip().lower()[:64]
    address = address[:64]
    until = locked_until(session=session, username=name, address=address, policy=policy, now=now)
    if until is not None:
        from models.clock import fmt_datetime

        raise LoginRefused("đăng nhập tạm khóa vì sai mật khẩu nhiều lần; thử lại sau " + fmt_datetime(until))
    user = by_username(session, name) if name else None
    ok = password_matches(user.password_hash if user else None, password)
    ok = ok and user is not None and not user.disabled
    session.add(LoginAttempt(username=name, address=address, ok=ok, at=now))
    if not ok or user is None:
        session.flush()
        return_to = "tên đăng nhập hoặc mật khẩu không đúng, hoặc tài khoản đã bị khóa"
        raise LoginRefused(return_to)
    if _hasher()[0].check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        PortalSession(
            id=_digest(token),
            user_id=_id(user),
            csrf_token=csrf,
            address=address,
            created_at=now,
            last_seen=now,
        )
    )
    session.flush()
    return NewSession(token=token, csrf_token=csrf, user=user)


def current(
    *, session: Session, token: str | None, policy: Policy, now: datetime | None = None
) -> tuple[PortalUser, PortalSession] | None:
    """The user and session behind a cookie, if it is live (not idle too long, not too old, user enabled);
    a dead session is deleted. Refreshes `last_seen`."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    row = session.get(PortalSession, _digest(token))
    if row is None:
        return None
    user = session.get(PortalUser, row.user_id)
    if (
        user is None
        or user.disabled
        or now - _aware(row.last_seen) > policy.idle
        or now - _aware(row.created_at) > policy.absolute
    ):
        session.delete(row)
        session.flush()
        return None
    if now - _aware(row.last_seen) > timedelta(seconds=30):  # one write per half minute, not per request
        row.last_seen = now
        session.add(row)
    return user, row


def logout(*, session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(PortalSession).where(col(PortalSession.id) == _digest(token)))


def list_users(session: Session) -> list[PortalUser]:
    return list(session.scalars(select(PortalUser).order_by(col(PortalUser.username))))
