"""Accounts and sessions: Argon2 hashes, server-side sessions, a new ID at login, CSRF on every POST,
lockout after repeated failures, logout and disabling ending sessions at once, passwords never shown."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from tests.portal.conftest import PASSWORD, A, client, csrf_of, login


def test_a_password_is_stored_as_an_argon2_hash_only(world) -> None:
    from sqlmodel import Session

    from models.accounts import by_username
    from models.db import get_engine

    with Session(get_engine(world.url)) as s:
        user = by_username(s, "tk.a")
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_login_sets_a_hardened_cookie_and_pages_carry_security_headers(world) -> None:
    c = client()
    form = c.get("/login")
    for header, value in {
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
    }.items():
        assert form.headers[header] == value
    csp = form.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in form.text  # no inline script anywhere (the CSP would block it)
    r = c.post("/login", data={"username": "tk.a", "password": PASSWORD, "csrf": csrf_of(form.text)})
    assert r.status_code == 303
    cookie = next(
        v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("thidua_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert c.get("/inbox").status_code == 200


def test_the_cookie_is_secure_when_the_portal_is_behind_tls(world, monkeypatch) -> None:
    from models.settings import reset_settings

    monkeypatch.setenv("THIDUA_PORTAL_TLS", "true")
    reset_settings()
    try:
        c = client("https://testserver")  # a Secure cookie comes back over TLS only
        form = c.get("/login")
        r = c.post("/login", data={"username": "tk.a", "password": PASSWORD, "csrf": csrf_of(form.text)})
        cookie = next(
            v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("thidua_session=")
        )
        assert "Secure" in cookie
    finally:
        monkeypatch.delenv("THIDUA_PORTAL_TLS")
        reset_settings()


def test_without_a_session_every_page_sends_to_the_login(world) -> None:
    c = client()
    r = c.get(f"/dossiers/{world.codes[A]}")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    c.cookies.set("thidua_session", "forged-or-old-session-id")
    assert c.get("/inbox").status_code == 303


def test_a_post_without_a_session_is_sent_to_the_login_before_its_body_is_read(world) -> None:
    """An upload (or any POST) from someone not logged in is not parsed: a body that cannot be read as
    a form would answer 400 if it were; it is answered with the login page's address instead."""
    c = client()
    garbage = b"--x\r\nContent-Disposition: form-data; name=file; filename=a.csv\r\n" + b"x" * 2**20
    for path in ("/nominate", "/reports", f"/meetings/{world.meetings[A]}/minutes/file"):
        r = c.post(path, content=garbage, headers={"content-type": "multipart/form-data; boundary=x"})
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), (path, r.status_code)
    c2, _ = login("tk.a")  # logged in, the same body is read, and refused as a form
    r = c2.post("/nominate", content=garbage, headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 400


def test_argon2_costs_follow_the_settings_and_an_old_hash_is_redone_at_login(world, monkeypatch) -> None:
    from argon2 import PasswordHasher
    from sqlmodel import Session

    from models import accounts
    from models.accounts import by_username
    from models.db import get_engine
    from models.settings import reset_settings

    with Session(get_engine(world.url)) as s:
        user = by_username(s, "vt.tinh")
        assert user is not None
        assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # OWASP's, the default
        user.password_hash = PasswordHasher().hash(PASSWORD)  # the library's default (64 MiB, t=3, p=4)
        s.add(user)
        s.commit()
    login("vt.tinh")  # the old hash still lets its owner in, and is redone with today's costs
    with Session(get_engine(world.url)) as s:
        user = by_username(s, "vt.tinh")
        assert user is not None and user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    monkeypatch.setenv("THIDUA_PORTAL_ARGON2_TIME_COST", "3")
    reset_settings()
    try:
        stronger = accounts.hash_password("mot-mat-khau-khac-2026")
        assert stronger.startswith("$argon2id$v=19$m=19456,t=3,p=1$")
        assert accounts.password_matches(stronger, "mot-mat-khau-khac-2026")
        assert not accounts.password_matches(stronger, "sai")
        assert not accounts.password_matches(None, "mot-mat-khau-khac-2026")
        assert not accounts.password_matches("", "mot-mat-khau-khac-2026")
    finally:
        monkeypatch.delenv("THIDUA_PORTAL_ARGON2_TIME_COST")
        reset_settings()


def test_a_session_id_set_before_login_is_never_the_one_after(world) -> None:
    """Fixation: whatever session cookie the browser brings, login issues a new one and the old dies."""
    c, _ = login("tk.a")
    old = c.cookies.get("thidua_session")
    form = c.get("/login")
    r = c.post("/login", data={"username": "tk.a", "password": PASSWORD, "csrf": csrf_of(form.text)})
    new = r.cookies.get("thidua_session")
    assert new and new != old
    attacker = client()
    attacker.cookies.set("thidua_session", old)
    assert attacker.get("/inbox").status_code == 303  # the session from before the login is gone
    planted = client()
    planted.cookies.set("thidua_session", "planted-by-attacker")
    form = planted.get("/login")
    r = planted.post("/login", data={"username": "tk.a", "password": PASSWORD, "csrf": csrf_of(form.text)})
    assert r.cookies.get("thidua_session") not in (None, "planted-by-attacker")


def test_a_login_without_its_form_token_is_refused(world) -> None:
    c = client()
    r = c.post("/login", data={"username": "tk.a", "password": PASSWORD, "csrf": "guess"})
    assert r.status_code == 403 and "thidua_session" not in r.cookies


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(world, token) -> None:
    c, _ = login("tk.a")
    data = {"year": "2025"} | ({"csrf": token} if token is not None else {})
    r = c.post("/reports", data=data, files={"file": ("bao-cao.pdf", b"%PDF-1.4 test")})
    assert r.status_code == 403
    assert "chống giả mạo" in r.text
    assert "bao-cao.pdf" not in c.get("/reports").text
    r = c.post("/logout", data=data)
    assert r.status_code == 403
    assert c.get("/inbox").status_code == 200  # still logged in: the forged logout did nothing


def test_logout_ends_the_session_at_once(world) -> None:
    c, csrf = login("tk.a")
    cookie = c.cookies.get("thidua_session")
    assert c.post("/logout", data={"csrf": csrf}).status_code == 303
    replay = client()
    replay.cookies.set("thidua_session", cookie)
    assert replay.get("/inbox").status_code == 303


def test_disabling_a_user_ends_their_sessions_at_the_next_click(world) -> None:
    from models import accounts
    from models.db import session_scope

    with session_scope() as s:
        accounts.add_user(session=s, username="tam.thoi", unit=A, role="secretary", password=PASSWORD)
    c, _ = login("tam.thoi")
    assert c.get("/inbox").status_code == 200
    code = subprocess.run(
        [sys.executable, "-m", "cli.app", "users", "disable", "tam.thoi"], capture_output=True, text=True
    )
    assert code.returncode == 0, code.stderr
    assert c.get("/inbox").status_code == 303
    form = client().get("/login")
    again = client()
    again.cookies.set("thidua_login", form.cookies.get("thidua_login"))
    r = again.post("/login", data={"username": "tam.thoi", "password": PASSWORD, "csrf": csrf_of(form.text)})
    assert r.status_code == 401


def test_an_account_locks_after_repeated_failures_and_the_page_says_so(world) -> None:
    from models import accounts
    from models.accounts import Policy
    from models.db import session_scope

    with session_scope() as s:
        accounts.add_user(session=s, username="hay.quen", unit=A, role="secretary", password=PASSWORD)
    limit = Policy.from_settings().failures_per_account
    c = client()
    for _ in range(limit):
        form = c.get("/login")
        r = c.post(
            "/login",
            data={"username": "hay.quen", "password": "sai-mat-khau-123", "csrf": csrf_of(form.text)},
        )
        assert r.status_code == 401 and "tạm khóa" not in r.text.split("<main>")[1].split("Sai mật khẩu")[0]
    form = c.get("/login")
    r = c.post("/login", data={"username": "hay.quen", "password": PASSWORD, "csrf": csrf_of(form.text)})
    assert r.status_code == 401 and "tạm khóa" in r.text  # even the right password, until the lock ends
    assert "thidua_session" not in r.cookies
    assert f"Sai mật khẩu {limit} lần" in form.text  # the page says the rule before it bites


def test_an_address_locks_after_failures_across_accounts(world) -> None:
    from datetime import timedelta

    from models import accounts
    from models.db import session_scope

    policy = accounts.Policy(failures_per_account=100, failures_per_address=3, lockout=timedelta(minutes=15))
    with session_scope() as s:
        for i in range(3):
            with pytest.raises(accounts.LoginRefused):
                accounts.login(
                    session=s, username=f"khong-co-{i}", password="x", address="10.9.9.9", policy=policy
                )
        with pytest.raises(accounts.LoginRefused, match="tạm khóa"):
            accounts.login(session=s, username="tk.b", password=PASSWORD, address="10.9.9.9", policy=policy)
        assert accounts.login(
            session=s, username="tk.b", password=PASSWORD, address="10.9.9.8", policy=policy
        )


def test_idle_and_absolute_expiry(world) -> None:
    from datetime import timedelta

    from models import accounts
    from models.clock import utcnow
    from models.db import session_scope

    policy = accounts.Policy(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
    now = utcnow()
    with session_scope() as s:
        new = accounts.login(
            session=s, username="tk.b", password=PASSWORD, address="1.1.1.1", policy=policy, now=now
        )
        assert accounts.current(session=s, token=new.token, policy=policy, now=now + timedelta(minutes=29))
        assert accounts.current(session=s, token=new.token, policy=policy, now=now + timedelta(minutes=58))
        assert (
            accounts.current(session=s, token=new.token, policy=policy, now=now + timedelta(minutes=90))
            is None
        )
        new = accounts.login(
            session=s, username="tk.b", password=PASSWORD, address="1.1.1.1", policy=policy, now=now
        )
        for minutes in range(20, 12 * 60, 20):  # active all day: still ends at 12 h
            alive = accounts.current(
                session=s, token=new.token, policy=policy, now=now + timedelta(minutes=minutes)
            )
            assert alive is not None
        assert (
            accounts.current(
                session=s, token=new.token, policy=policy, now=now + timedelta(hours=12, minutes=5)
            )
            is None
        )


def test_changing_the_password_ends_other_sessions_and_never_shows_it(world, caplog) -> None:
    from models import accounts
    from models.db import session_scope

    with session_scope() as s:
        accounts.add_user(session=s, username="doi.mk", unit=A, role="secretary", password=PASSWORD)
    caplog.set_level(logging.DEBUG)
    other, _ = login("doi.mk")
    c, csrf = login("doi.mk")
    new = "mat-khau-moi-2026-xyz"
    r = c.post("/password", data={"csrf": csrf, "current": "sai-roi-1234", "new": new, "again": new})
    assert r.status_code == 400 and "không đúng" in r.text
    r = c.post("/password", data={"csrf": csrf, "current": PASSWORD, "new": new, "again": new})
    assert r.status_code == 200 and "Đã đổi mật khẩu" in r.text
    assert new not in r.text and PASSWORD not in r.text
    assert c.get("/inbox").status_code == 200  # this browser carries on
    assert other.get("/inbox").status_code == 303  # the other session ended
    login("doi.mk", new)
    assert PASSWORD not in caplog.text and new not in caplog.text


def test_users_add_takes_the_password_from_a_file_or_prompt_never_argv(world, tmp_path) -> None:
    from typer.testing import CliRunner

    from cli.app import app

    secret = tmp_path / "mk.txt"
    secret.write_text("mat-khau-tu-tep-2026\n")
    runner = CliRunner()
    r = runner.invoke(
        app, ["users", "add", "tu.tep", "--unit", A, "--role", "chair", "--password-file", str(secret)]
    )
    assert r.exit_code == 0, r.output
    login("tu.tep", "mat-khau-tu-tep-2026")
    r = runner.invoke(
        app,
        ["users", "add", "hoi.mk", "--unit", A, "--role", "chair"],
        input="mat-khau-hoi-2026\nmat-khau-hoi-2026\n",
    )
    assert r.exit_code == 0, r.output
    assert "mat-khau-hoi-2026" not in r.output
    login("hoi.mk", "mat-khau-hoi-2026")
    r = runner.invoke(app, ["users", "add", "ngan", "--unit", A, "--role", "chair"], input="ngan\nngan\n")
    assert r.exit_code == 2 and "ít nhất 10" in r.output
    r = runner.invoke(app, ["users", "add", "x", "--unit", A, "--role", "chair", "--password", "abc"])
    assert r.exit_code != 0  # there is no such option
    r = runner.invoke(app, ["users", "list", "--json"])
    assert '"tu.tep"' in r.output and "argon2" not in r.output


def test_the_login_page_has_an_icon_that_is_served(world) -> None:
    """The browser asks for the page's icon: the link names one the portal serves (no 404 at login)."""
    from tests.portal.conftest import client

    c = client()
    page = c.get("/login").text
    assert '<link rel="icon" href="/static/favicon.svg"' in page
    icon = c.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.startswith(b"<svg")
