"""The portal's web application: FastAPI, jinja2 pages rendered on the server, plain HTML forms.

Every route but the login page and the static files depends on `guard`, which
1. finds the session behind the cookie (server-side: logout and disabling a user end it at once),
2. on a POST, checks the form's CSRF token against the session's,
3. resolves the object the route acts on (portal/authz.py `Scope`) and checks the one table of rules:
   a role without a rule gets 403, an object outside the rule 404.
Reads go to the app database; changes go through the Prefect flows (portal/runs.py).
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlmodel import Session, col
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cli.common import award_name
from models import accounts
from models.accounts import PortalUser, Role
from models.calendar import working_days_between
from models.clock import fmt_date, fmt_datetime, parse_date, today_vn
from models.db import session_scope
from models.hierarchy import CENTRAL as CENTRAL_LEVELS
from models.hierarchy import Hierarchy, UnitRef
from models.queries import votes_text
from portal import authz

HERE = Path(__file__).resolve().parent
DMY = re.compile(r"\d{1,2}/\d{1,2}/\d{4}")
COOKIE = "thidua_session"
LOGIN_COOKIE = "thidua_login"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.auto_reload = False  # compiled once per process (see `_preload`), never re-read per request
templates.env.filters["vn_date"] = lambda v: fmt_date(date.fromisoformat(v) if isinstance(v, str) else v)
templates.env.filters["vn_time"] = fmt_datetime
templates.env.filters["award"] = award_name
templates.env.filters["outcome"] = lambda v: _outcome_label(str(v))
templates.env.filters["votes"] = votes_text


def _outcome_label(value: str) -> str:
    """«khen thưởng» for `conferred`: a meeting's outcome as officials read it."""
    from models.meetings import Outcome

    return next((o.label for o in Outcome if o.value == value), value)


class SecurityHeaders:
    """Every answer carries the security headers; pages are not cached (they hold personal data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class Denied(Exception):
    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NotLoggedIn(Exception):
    pass


@dataclass
class Viewer:
    """Who is asking, and what the route's object turned out to be."""

    user: PortalUser
    unit: UnitRef  # the user's unit
    csrf: str
    hierarchy: Hierarchy
    route: str
    target: UnitRef  # the unit the page is about (the user's own unless asked and allowed)
    obj: Any = None  # the dossier (Nomination) or the meeting (Meeting) of the route

    @property
    def is_operator(self) -> bool:
        return self.user.role == Role.operator

    def can(self, route: str, unit: UnitRef | None = None) -> bool:
        """Whether a link or button to `route` (for `unit`) would be allowed: pages show only those."""
        return (
            authz.decide(
                route,
                self.user.role,
                user_unit=self.unit,
                targets=[unit or self.target],
                hierarchy=self.hierarchy,
            )
            == 200
        )


def _policy() -> accounts.Policy:
    return accounts.Policy.from_settings()


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _targets(
    session: Session,
    hierarchy: Hierarchy,
    viewer_unit: UnitRef,
    spec: authz.Route,
    request: Request,
    form: FormData | None,
):
    """The object of the route and its units; raises Denied(404) for an object that does not exist."""
    from models.meetings import Meeting
    from models.nominations import NominationStep, by_code

    if spec.scope == authz.Scope.user:
        return viewer_unit, None, [viewer_unit]
    if spec.scope == authz.Scope.unit:
        code = request.query_params.get("unit") or (str(form.get("unit") or "") if form else "")
        unit = hierarchy.by_code.get(code) if code else viewer_unit
        if unit is None:
            raise Denied(404)
        return unit, None, [unit]
    if spec.scope in (authz.Scope.dossier, authz.Scope.dossier_origin):
        nomination = by_code(session=session, code=str(request.path_params.get("code", "")).upper())
        if nomination is None or nomination.id is None:
            raise Denied(404)
        ids: set[int | None] = {nomination.origin_unit_id}
        if spec.scope == authz.Scope.dossier:
            ids |= {nomination.current_unit_id}
            ids |= set(
                session.scalars(
                    select(col(NominationStep.unit_id)).where(
                        col(NominationStep.nomination_id) == nomination.id
                    )
                )
            )
        units = [hierarchy.get(i) for i in ids if i is not None]
        return hierarchy.get(nomination.origin_unit_id), nomination, units
    if spec.scope == authz.Scope.document:
        from models.documents import Document

        try:
            doc_id = int(request.path_params.get("doc_id", ""))
        except ValueError:
            raise Denied(404) from None
        found = session.execute(
            select(col(Document.unit_id), col(Document.to_unit_id)).where(col(Document.id) == doc_id)
        ).first()
        if found is None:
            raise Denied(404)
        issuer, to_unit = found
        units = [hierarchy.get(issuer)] + ([hierarchy.get(to_unit)] if to_unit is not None else [])
        return units[0], doc_id, units
    try:
        meeting_id = int(request.path_params.get("meeting_id", ""))
    except ValueError:
        raise Denied(404) from None
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise Denied(404)
    unit = hierarchy.get(meeting.unit_id)
    return unit, meeting, [unit]


def _check(request: Request, route: str, form: FormData | None) -> Viewer:
    spec = authz.ROUTES[route]
    with session_scope() as session:
        found = accounts.current(session=session, token=request.cookies.get(COOKIE), policy=_policy())
        if found is None:
            raise NotLoggedIn
        user, row = found
        if form is not None and not secrets.compare_digest(str(form.get("csrf") or ""), row.csrf_token):
            raise Denied(
                403,
                "Biểu mẫu đã cũ hoặc không hợp lệ (mã chống giả mạo không khớp); tải lại trang rồi làm lại.",
            )
        hierarchy = Hierarchy.load(session)
        own = hierarchy.get(user.unit_id)
        target, obj, units = _targets(session, hierarchy, own, spec, request, form)
        status = authz.decide(route, user.role, user_unit=own, targets=units, hierarchy=hierarchy)
        if status != 200:
            raise Denied(status)
        session.expunge_all()
        return Viewer(
            user=user, unit=own, csrf=row.csrf_token, hierarchy=hierarchy, route=route, target=target, obj=obj
        )


def _logged_in(request: Request) -> None:
    """Raises NotLoggedIn unless the cookie names a live session."""
    with session_scope() as session:
        if accounts.current(session=session, token=request.cookies.get(COOKIE), policy=_policy()) is None:
            raise NotLoggedIn


async def guard(request: Request) -> Viewer:
    """The one dependency of every route: session, CSRF on POST, the route × role table.

    A POST's body (an upload, perhaps large) is read only once the cookie is known to be a live session."""
    route = request.scope["route"].name
    form = None
    if request.method == "POST":
        await run_in_threadpool(_logged_in, request)
        form = await request.form()
    return await run_in_threadpool(_check, request, route, form)


router = APIRouter()


def page(
    request: Request, name: str, viewer: Viewer | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"viewer": viewer, "today": fmt_date(today_vn()), "status": status_code, **context},
        status_code=status_code,
    )


def back_to(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# --- login, logout, password ----------------------------------------------------------------------


def _login_page(
    request: Request, *, error: str = "", username: str = "", status_code: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = page(
        request,
        "login.html",
        None,
        status_code=status_code,
        error=error,
        username=username,
        login_csrf=token,
        next=_safe_next(request.query_params.get("next", "")),
        policy=_policy(),
    )
    _set_cookie(response, LOGIN_COOKIE, token, max_age=3600)
    return response


def _safe_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


def _set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    from models.settings import get_settings

    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=get_settings().portal_tls,
        path="/",
    )


@router.get("/login", name="login_form", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


# Logins verify an Argon2 hash, deliberately costly: they wait for one of these places (one a core)
# instead of taking every thread and core from the pages of people already logged in.
LOGINS_AT_ONCE = os.cpu_count() or 2
_login_places: anyio.CapacityLimiter | None = None


@router.post("/login", name="login")
async def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
    next: str = Form("/"),
) -> Response:
    global _login_places
    if _login_places is None:
        _login_places = anyio.CapacityLimiter(LOGINS_AT_ONCE)
    return await anyio.to_thread.run_sync(
        _login, request, username, password, csrf, next, limiter=_login_places
    )


def _login(request: Request, username: str, password: str, csrf: str, next: str) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf, expected):
        return _login_page(
            request, error="Biểu mẫu đăng nhập đã cũ; vui lòng nhập lại.", username=username, status_code=403
        )
    with session_scope() as session:
        accounts.logout(session=session, token=request.cookies.get(COOKIE))  # no session survives a login
        try:
            new = accounts.login(
                session=session,
                username=username,
                password=password,
                address=_address(request),
                policy=_policy(),
            )
        except accounts.LoginRefused as exc:
            session.commit()  # the failed attempt counts
            return _login_page(
                request, error=f"Không đăng nhập được: {exc}.", username=username, status_code=401
            )
    response = back_to(_safe_next(next))
    _set_cookie(response, COOKIE, new.token)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout", name="logout")
def logout(request: Request, viewer: Viewer = Depends(guard)) -> Response:
    with session_scope() as session:
        accounts.logout(session=session, token=request.cookies.get(COOKIE))
    response = back_to("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/password", name="password_form", response_class=HTMLResponse)
def password_form(request: Request, viewer: Viewer = Depends(guard)) -> HTMLResponse:
    return page(request, "password.html", viewer)


@router.post("/password", name="password")
def change_password(
    request: Request,
    viewer: Viewer = Depends(guard),
    current: str = Form(""),
    new: str = Form(""),
    again: str = Form(""),
) -> Response:
    error = ""
    with session_scope() as session:
        user = session.get(PortalUser, viewer.user.id)
        assert user is not None
        if not accounts.password_matches(user.password_hash, current):
            error = "mật khẩu hiện tại không đúng"
        if not error and new != again:
            error = "hai lần nhập mật khẩu mới không khớp"
        if not error:
            try:
                accounts.set_password(session=session, user=user, password=new)
            except accounts.AccountError as exc:
                error = str(exc)
        if error:
            session.rollback()
            return page(request, "password.html", viewer, status_code=400, error=error)
        fresh = accounts.login(
            session=session, username=user.username, password=new, address=_address(request), policy=_policy()
        )
    response = page(request, "password.html", viewer, done=True)
    _set_cookie(response, COOKIE, fresh.token)  # every other session ended with the old password
    return response


# --- pages ------------------------------------------------------------------------------------------


@router.get("/", name="home")
def home(viewer: Viewer = Depends(guard)) -> Response:
    if viewer.user.role == Role.operator:
        return back_to("/reports/status")
    return back_to("/inbox")


_CHILDREN: dict[tuple[int, date], dict[int, list[UnitRef]]] = {}


def _children(hierarchy: Hierarchy, unit: UnitRef) -> list[UnitRef]:
    """The units directly under `unit` today, by name (an index built once per loaded tree and day)."""
    today = today_vn()
    key = (id(hierarchy), today)
    if key not in _CHILDREN:
        _CHILDREN.clear()
        index: dict[int, list[UnitRef]] = {}
        for u in sorted(hierarchy.by_id.values(), key=lambda u: u.name):
            if u.parent_id is not None and u.valid_on(today):
                index.setdefault(u.parent_id, []).append(u)
        _CHILDREN[key] = index
    return _CHILDREN[key].get(unit.id, [])


def _due(item: dict, today: date) -> dict:
    due = date.fromisoformat(item["due_on"]) if item.get("due_on") else None
    left = working_days_between(today, due) if due else None
    return {**item, "due": fmt_date(due), "left": left, "overdue": left is not None and left < 0}


PROPOSED_SHOWN = 200  # the latest dossiers a unit proposed, on its inbox page


def returned_item(
    *, code: str, nominee: str, where: str, returned_on: date | None, deadline: date | None, today: date
) -> dict:
    """A dossier returned for completion (trả lại để bổ sung), as the inbox lists it: its completion
    deadline (hạn bổ sung) with the working days left or overdue; without a deadline (older returns), the
    day it was returned and the working days since."""
    left = working_days_between(today, deadline) if deadline else None
    return {
        "code": code,
        "nominee": nominee,
        "where": where,
        "returned_on": fmt_date(returned_on),
        "return_deadline": fmt_date(deadline),
        "left": left,
        "overdue": left is not None and left < 0,
        "since": working_days_between(returned_on, today) if returned_on and not deadline else None,
    }


@router.get("/inbox", name="inbox", response_class=HTMLResponse)
def inbox(request: Request, viewer: Viewer = Depends(guard)) -> HTMLResponse:
    from models.nominations import Nomination, Nominee, Status
    from models.queries import inbox as inbox_of

    today = today_vn()
    unit = viewer.target
    with session_scope() as session:
        items = [
            _due(i, today) for i in inbox_of(session=session, unit_id=unit.id, hierarchy=viewer.hierarchy)
        ]
        rows = session.execute(  # the columns the page shows, not whole rows
            select(
                col(Nomination.code),
                col(Nominee.name),
                col(Nomination.status),
                col(Nomination.current_unit_id),
            )
            .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
            .where(col(Nomination.origin_unit_id) == unit.id, col(Nomination.status) != Status.returned)
            .order_by(col(Nomination.id).desc())
            .limit(PROPOSED_SHOWN)
        ).all()
        returned_rows = session.execute(  # every one, however old: the unit owes each a completion
            select(
                col(Nomination.code),
                col(Nominee.name),
                col(Nomination.current_unit_id),
                col(Nomination.paused_on),
                col(Nomination.return_deadline),
            )
            .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
            .where(col(Nomination.origin_unit_id) == unit.id, col(Nomination.status) == Status.returned)
            .order_by(col(Nomination.return_deadline), col(Nomination.id))
        ).all()
    forms = Counter(i["award_name"] for i in items)
    proposed = [
        {
            "code": code,
            "nominee": name,
            "status_label": Status(status).label,
            "where": viewer.hierarchy.get(current).name,
        }
        for code, name, status, current in rows
    ]
    returned = [
        returned_item(
            code=code,
            nominee=name,
            where=viewer.hierarchy.get(current).name,
            returned_on=paused,
            deadline=deadline,
            today=today,
        )
        for code, name, current, paused, deadline in returned_rows
    ]
    return page(
        request,
        "inbox.html",
        viewer,
        unit=unit,
        items=items,
        forms=sorted(forms.items()),
        overdue=sum(1 for i in items if i["overdue"]),
        returned=returned,
        proposed=proposed,
        below=_children(viewer.hierarchy, unit) if unit.id == viewer.unit.id or viewer.can("inbox") else [],
    )


@router.get("/dossiers/{code}", name="dossier", response_class=HTMLResponse)
def dossier(request: Request, code: str, viewer: Viewer = Depends(guard)) -> HTMLResponse:
    from models.queries import nomination_status

    with session_scope() as session:
        data = nomination_status(session=session, code=viewer.obj.code, hierarchy=viewer.hierarchy)
        letters = _letters_about(session, viewer)
        papers = _shown_papers(viewer, _papers(session, code=viewer.obj.code))
    from models.nominations import Action

    for s in data["steps"]:
        s["action_label"] = Action(s["action"]).label
    return page(request, "dossier.html", viewer, d=data, letters=letters, origin=viewer.target, papers=papers)


def _letters_about(session: Session, viewer: Viewer) -> list[Any]:
    """The letters about the viewer's dossier that the viewer may read: those sent to a unit on its way
    (where it came from and each council it passed) whose letters the viewer may open (the `letters` rule),
    naming its code as a whole word. A council's digest to another unit lists other units' dossiers, so
    a letter is never shown for its text alone."""
    from models.nominations import NominationStep
    from notifications.outbox import OutboxMessage

    n = viewer.obj
    on_its_way = {n.origin_unit_id, n.current_unit_id}
    for unit_id, to_unit_id in session.execute(
        select(col(NominationStep.unit_id), col(NominationStep.to_unit_id)).where(
            col(NominationStep.nomination_id) == n.id
        )
    ):
        on_its_way |= {unit_id, to_unit_id}
    readable = [
        u for u in (viewer.hierarchy.get(i) for i in on_its_way if i is not None) if viewer.can("letters", u)
    ]
    addresses = sorted({a for u in readable for a in unit_addresses(session, u)})
    if not addresses:
        return []
    whole_code = re.compile(rf"(?<![\w-]){re.escape(n.code)}(?![\w-])")
    found = session.scalars(
        select(OutboxMessage)
        .where(col(OutboxMessage.to_email).in_(addresses), col(OutboxMessage.text_body).contains(n.code))
        .order_by(col(OutboxMessage.id))
    ).all()
    return [m for m in found if whole_code.search(m.text_body)]


@router.post("/dossiers/{code}/resubmit", name="resubmit")
def resubmit(request: Request, code: str, viewer: Viewer = Depends(guard)) -> Response:
    from portal import runs

    try:
        done, run_id = runs.resubmit_codes(codes=[viewer.obj.code], actor=viewer.user.actor)
    except runs.RunFailed as exc:
        return page(
            request, "message.html", viewer, status_code=400, title="Chưa nộp lại được", message=str(exc)
        )
    return page(
        request,
        "message.html",
        viewer,
        title="Đã nộp lại hồ sơ",
        message=f"Đã nộp lại: {', '.join(done) or 'không có hồ sơ nào'}",
        run_link=runs.run_link(run_id) if viewer.is_operator else "",
        back=f"/dossiers/{quote(viewer.obj.code)}",
    )


# --- Nộp hồ sơ --------------------------------------------------------------------------------------

UPLOAD_SUFFIXES = (".csv", ".xlsx", ".json")


@router.get("/nominate", name="nominate_form", response_class=HTMLResponse)
def nominate_form(request: Request, viewer: Viewer = Depends(guard)) -> HTMLResponse:
    return page(request, "nominate.html", viewer)


@router.get("/nominate/mau-ho-so.xlsx", name="nominate_template")
def nominate_template(viewer: Viewer = Depends(guard)) -> Response:
    from models.intake import write_nomination_template

    folder = Path(tempfile.mkdtemp(prefix="thidua-portal-"))
    path = write_nomination_template(folder / "mau-ho-so.xlsx")
    from starlette.background import BackgroundTask

    return FileResponse(
        path,
        filename="mau-ho-so.xlsx",
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        background=BackgroundTask(_remove, folder),
    )


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _saved_upload(upload: StarletteUploadFile, folder: Path, suffixes: tuple[str, ...]) -> Path | str:
    """The upload written to a private temporary file (the readers take paths), or why it is refused."""
    from models.settings import get_settings

    name = Path(upload.filename or "").name
    suffix = Path(name).suffix.lower()
    if not name:
        return "chưa chọn tệp"
    if suffix not in suffixes:
        return f"tệp «{name}» không đúng loại: chỉ nhận {', '.join(suffixes)}"
    limit = get_settings().file_max_bytes
    path = folder / f"upload{suffix}"
    size = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                return f"tệp «{name}» quá lớn (quá {limit // 2**20} MB)"
            out.write(chunk)
    return path


def _unit_problems(rows: list[tuple[int, dict]], viewer: Viewer) -> list[dict]:
    """Rows whose unit is not the user's: nobody submits for another unit. A row's unit is resolved the
    way the intake resolves it (by code or name, on the row's date); a name that could still be another
    unit (no readable date, or several units of that name on it) is refused on its row."""
    from models.hierarchy import AmbiguousUnit, UnitNotFound
    from models.intake import NominationRow

    today = today_vn()
    hierarchy = viewer.hierarchy

    def ours(unit: UnitRef) -> bool:
        now = hierarchy.successor_on(unit, today)
        return unit.id == viewer.unit.id or (now is not None and now.id == viewer.unit.id)

    problems = []
    for number, raw in rows:
        ref = str(raw.get("unit") or "").strip()
        if not ref:
            continue  # the flow names the missing unit
        try:
            day = NominationRow._date(raw.get("submitted_on"))
        except ValueError:
            day = None  # the flow names the bad date; the unit must be ours whatever the date
        try:
            found = hierarchy.resolve(ref, on=day)
        except UnitNotFound:
            continue  # the flow names it, with the dossier's date
        except AmbiguousUnit:
            problems.append(
                {
                    "row": number,
                    "column": "Đơn vị đề nghị",
                    "message": f"tên đơn vị «{ref}» trùng với nhiều đơn vị; ghi mã đơn vị "
                    f"{viewer.unit.code} ({viewer.unit.name}) để nộp hồ sơ của đơn vị mình",
                }
            )
            continue
        if not ours(found):
            problems.append(
                {
                    "row": number,
                    "column": "Đơn vị đề nghị",
                    "message": f"«{ref}» ({found.name}) không phải đơn vị của bạn ({viewer.unit.name}); "
                    "chỉ nộp hồ sơ của đơn vị mình",
                }
            )
    return problems


def _form_file(form: FormData, name: str = "file") -> StarletteUploadFile | None:
    value = form.get(name)
    return value if isinstance(value, StarletteUploadFile) else None


# The upload routes read their form themselves (not as FastAPI File/Form parameters, which are parsed
# before any dependency): `guard` reads the body only once the session is known to be live.


@router.post("/nominate", name="nominate", response_class=HTMLResponse)
async def nominate(request: Request, viewer: Viewer = Depends(guard)) -> HTMLResponse:
    form = await request.form()  # already read by guard (cached)
    return await run_in_threadpool(_nominate, request, viewer, _form_file(form))


def _nominate(request: Request, viewer: Viewer, file: StarletteUploadFile | None) -> HTMLResponse:
    from models.intake import COLUMNS, HEADERS_VI, IntakeRefused
    from models.sheets import FileRefused, read_rows
    from portal import runs

    folder = Path(tempfile.mkdtemp(prefix="thidua-portal-"))
    try:
        saved = _saved_upload(file, folder, UPLOAD_SUFFIXES) if file is not None else "chưa chọn tệp"
        if isinstance(saved, str):
            return page(request, "nominate.html", viewer, status_code=400, file_error=saved)
        try:
            rows = read_rows(
                saved, columns=COLUMNS, labels=HEADERS_VI, required=COLUMNS[:4] + ("submitted_on",)
            )
        except FileRefused as exc:
            return page(request, "nominate.html", viewer, status_code=400, file_error=str(exc))
    finally:
        _remove(folder)
    name = Path(file.filename or "").name if file is not None else ""
    problems = _unit_problems(rows, viewer)
    if problems:
        return page(request, "nominate.html", viewer, status_code=400, errors=problems, file_name=name)
    try:
        result, run_id = runs.intake_rows(rows=rows, source=name, actor=viewer.user.actor)
    except runs.RunFailed as exc:
        return page(request, "nominate.html", viewer, status_code=500, file_error=str(exc))
    link = runs.run_link(run_id) if viewer.is_operator else ""
    if isinstance(result, IntakeRefused):
        errors = [
            {"row": e.row, "column": HEADERS_VI.get(e.column or "", e.column or ""), "message": e.message}
            for e in result.errors
        ]
        return page(
            request, "nominate.html", viewer, status_code=400, errors=errors, file_name=name, run_link=link
        )
    return page(request, "nominate.html", viewer, taken=result, file_name=name, run_link=link)


# --- Phiên họp --------------------------------------------------------------------------------------


@router.get("/meetings", name="meetings", response_class=HTMLResponse)
def meetings(request: Request, viewer: Viewer = Depends(guard), error: str = "") -> HTMLResponse:
    from models.meetings import Meeting
    from models.queries import inbox as inbox_of

    with session_scope() as session:
        rows = session.scalars(
            select(Meeting)
            .where(col(Meeting.unit_id) == viewer.target.id)
            .order_by(col(Meeting.id).desc())
            .limit(100)
        ).all()
        waiting = len(inbox_of(session=session, unit_id=viewer.target.id, hierarchy=viewer.hierarchy))
    return page(
        request, "meetings.html", viewer, meetings=rows, waiting=waiting, unit=viewer.target, error=error
    )


@router.post("/meetings/open", name="meeting_open", response_class=HTMLResponse)
def meeting_open(request: Request, viewer: Viewer = Depends(guard)) -> Response:
    from models.meetings import MeetingRefused
    from portal import runs

    try:
        meeting, run_id, why = runs.open_meeting(unit_code=viewer.target.code, unit_id=viewer.target.id)
    except (runs.ServiceDown, MeetingRefused, runs.RunFailed) as exc:
        return page(
            request,
            "message.html",
            viewer,
            status_code=409,
            title="Chưa mở được phiên họp",
            message=str(exc),
            back="/meetings",
        )
    if meeting is None:
        return page(
            request,
            "message.html",
            viewer,
            status_code=409 if why else 202,
            title="Phiên họp chưa mở" if why else "Phiên họp đang mở",
            message=why or "Hệ thống đang lập chương trình họp; tải lại trang Phiên họp sau ít phút.",
            run_link=runs.run_link(run_id) if viewer.is_operator else "",
            back="/meetings",
        )
    return back_to(f"/meetings/{meeting.id}")


def _meeting_steps(session: Session, meeting: Any) -> list[dict]:
    from models.meetings import step_keys
    from models.nominations import Nomination, NominationStep
    from models.queries import votes_public

    rows = session.execute(
        select(NominationStep, col(Nomination.code))
        .join(Nomination, col(Nomination.id) == col(NominationStep.nomination_id))
        .where(col(NominationStep.idempotency_key).in_(step_keys(meeting)))
        .order_by(col(NominationStep.id))
    ).all()
    return [
        {
            "code": code,
            "action": s.action.label,
            "votes": votes_public(s),
            "note": s.note,
            "decision_number": s.decision_number or "",
            "actor": s.actor,
        }
        for s, code in rows
    ]


GRID_FIELDS = (
    "decision",
    "votes_for",
    "votes_against",
    "votes_abstain",
    "votes_written",
    "lower_award",
    "note",
    "deadline",  # hạn bổ sung: for a dossier returned for completion (dd/mm/yyyy; empty: the rule's days)
)


WRITTEN = ("written_for", "written_against", "written_abstain")


def _written(text: str, problems: list[tuple[str | None, str]], code: str) -> dict[str, int]:
    """The written-votes cell: «2» (two written votes in favour) or «2/1/0» (for/against/abstain)."""
    if not text.strip():
        return {}
    parts = [p.strip() for p in text.split("/")]
    if len(parts) > 3 or not all(p.isdigit() for p in parts):
        problems.append(
            (
                code,
                f"Phiếu bằng văn bản: «{text}» phải là một số, hoặc ba số dạng đồng ý/không/không biểu quyết",
            )
        )
        return {}
    return {f: int(p) for f, p in zip(WRITTEN, parts, strict=False)}


def _grid_start(meeting: Any, members: int) -> dict:
    from models.meetings import Decision

    return {
        "meeting_date": fmt_date(today_vn()),
        "members_present": str(members),
        "rows": {
            a["code"]: {
                "decision": Decision.approve.label,
                "votes_for": "",
                "votes_against": "",
                "votes_abstain": "",
                "votes_written": "",
                "lower_award": "",
                "note": "",
                "deadline": "",
            }
            for a in meeting.agenda
        },
    }


def _meeting_view(request: Request, viewer: Viewer, status_code: int = 200, **extra: Any) -> HTMLResponse:
    from models.meetings import Decision, MeetingStatus, council_of
    from models.portal import draft_of
    from portal.runs import run_link

    meeting = viewer.obj
    with session_scope() as session:
        council, members = council_of(session=session, unit_id=meeting.unit_id)
        draft = draft_of(session, meeting.id)
        steps = _meeting_steps(session, meeting)
    body = extra.pop("body", None) or (draft.body if draft else None) or _grid_start(meeting, len(members))
    problems = extra.pop("problems", None)
    if problems is None:
        problems = draft.problems if draft else []
    by_code: dict[str, list[str]] = {}
    general: list[str] = []
    for code, text in problems:
        (by_code.setdefault(code, []) if code else general).append(text)
    editable = meeting.status == MeetingStatus.open and meeting.waits_for_decisions
    grid = {"body": body, "row_problems": by_code, "general": general, "draft": draft, "editable": editable}
    return page(
        request,
        "meeting.html",
        viewer,
        status_code=status_code,
        meeting=meeting,
        council=council,
        members=len(members),
        steps=steps,
        choices=[d.label for d in Decision],
        run_link=run_link(meeting.flow_run_id) if viewer.is_operator else "",
        **grid,
        **extra,
    )


@router.get("/meetings/{meeting_id}", name="meeting", response_class=HTMLResponse)
def meeting(request: Request, meeting_id: int, viewer: Viewer = Depends(guard)) -> HTMLResponse:
    return _meeting_view(request, viewer)


def _typed_grid(form: FormData, meeting: Any) -> dict:
    """What the secretary typed, as typed (kept whatever its problems)."""
    from models.meetings import Decision

    body: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in ("meeting_date", "members_present")}
    rows = {}
    for a in meeting.agenda:
        code = a["code"]
        rows[code] = {f: str(form.get(f"{f}:{code}") or "").strip() for f in GRID_FIELDS}
    if form.get("action") == "approve_all":
        votes = {
            f: str(form.get(f"all_{f}") or "").strip()
            for f in ("votes_for", "votes_against", "votes_abstain", "votes_written")
        }
        for r in rows.values():
            r.update(decision=Decision.approve.label, **votes)
    body["rows"] = rows
    return body


def _number(
    value: str, what: str, problems: list[tuple[str | None, str]], code: str | None = None
) -> int | None:
    if value == "":
        return None
    try:
        return int(value)
    except ValueError:
        problems.append((code, f"{what}: «{value}» không phải là số"))
        return None


def _minutes_data(body: dict, secretary: str) -> tuple[dict, list[tuple[str | None, str]]]:
    """The typed grid as minutes data for the one check (models.meetings), and what cannot even be read."""
    from flows.inputs import lower_award_code

    problems: list[tuple[str | None, str]] = []
    try:
        day: Any = parse_date(body["meeting_date"])
    except ValueError as exc:
        problems.append((None, f"Ngày họp: {exc}"))
        day = today_vn()
    decisions = []
    for code, r in body["rows"].items():
        item: dict[str, Any] = {"code": code, "decision": r["decision"], "note": r["note"]}
        if r["lower_award"]:
            item["lower_award"] = lower_award_code(r["lower_award"])
        for f, what in (
            ("votes_for", "Đồng ý"),
            ("votes_against", "Không đồng ý"),
            ("votes_abstain", "Không biểu quyết"),
        ):
            n = _number(r.get(f, ""), what, problems, code)
            if n is not None:
                item[f] = n
        item.update(_written(r.get("votes_written", ""), problems, code))  # absent members' ballots
        if r.get("deadline"):
            try:  # the grid says dd/mm/yyyy: another form (2026-12-20) is refused, never read otherwise
                if not DMY.fullmatch(r["deadline"].strip()):
                    raise ValueError(f"ngày «{r['deadline'].strip()}» không hợp lệ, cần dạng dd/mm/yyyy")
                item["deadline"] = parse_date(r["deadline"])
            except ValueError as exc:
                problems.append((code, f"Hạn bổ sung: {exc}"))
        decisions.append(item)
    data = {
        "meeting_date": day,
        "members_present": _number(body["members_present"], "Số thành viên dự họp", problems) or 0,
        "secretary": secretary[:200],
        "decisions": decisions,
    }
    return data, problems


def _stored(problems: list[tuple[str | None, str]]) -> list:
    """Problems as the draft keeps them (JSON): [code or null, text]."""
    return [[code, text] for code, text in problems]


def _check_grid(
    meeting: Any, body: dict, secretary: str, hierarchy: Hierarchy
) -> tuple[Any, list[tuple[str | None, str]]]:
    from models.meetings import checked_minutes

    data, problems = _minutes_data(body, secretary)
    with session_scope() as session:
        minutes, found = checked_minutes(session, meeting, data, hierarchy)
    problems += [(getattr(p, "code", None), str(p)) for p in found]
    return (None if problems else minutes), problems


@router.post("/meetings/{meeting_id}/minutes", name="minutes_save", response_class=HTMLResponse)
async def minutes_save(request: Request, meeting_id: int, viewer: Viewer = Depends(guard)) -> Response:
    form = await request.form()
    return await run_in_threadpool(_minutes_save, request, viewer, form)


def _minutes_save(request: Request, viewer: Viewer, form: FormData) -> Response:
    from models.meetings import MeetingStatus

    meeting = viewer.obj
    if meeting.status != MeetingStatus.open or not meeting.waits_for_decisions:
        return _meeting_view(request, viewer, status_code=409, notice="Phiên họp này không còn chờ biên bản.")
    return _save_checked(request, viewer, _typed_grid(form, meeting), [])


def _save_checked(
    request: Request, viewer: Viewer, body: dict, problems: list[tuple[str | None, str]]
) -> Response:
    """Save the grid as the draft with its problems (typed rows or a sheet): valid, back to the meeting's
    page; otherwise the page with every problem on its row and the input kept. Nothing is applied."""
    from models.portal import save_draft

    meeting = viewer.obj
    _, found = _check_grid(meeting, body, viewer.user.actor, viewer.hierarchy)
    problems = problems + found
    with session_scope() as session:
        save_draft(
            session=session,
            meeting_id=meeting.id,
            body=body,
            problems=_stored(problems),
            saved_by=viewer.user.actor,
        )
    if not problems:  # saved and valid: back to the meeting's page (a reload sends nothing twice)
        return back_to(f"/meetings/{meeting.id}")
    return _meeting_view(
        request,
        viewer,
        status_code=400,
        body=body,
        problems=_stored(problems),
        notice="Biên bản chưa hợp lệ, chưa áp dụng gì: xem lỗi ở từng dòng; những gì đã nhập được giữ nguyên.",
    )


MINUTES_SUFFIXES = (".csv", ".xlsx")


def _sheet_rows(rows: list[tuple[int, dict]], body: dict) -> list[tuple[str | None, str]]:
    """A minutes sheet's rows (as `thidua meeting decide --file` reads them) typed into the grid `body`;
    returns what does not fit the agenda. Cells are kept as written: the one check reads them."""
    from models.meetings import Decision

    problems: list[tuple[str | None, str]] = []

    def cell(raw: dict, key: str) -> str:
        value = raw.get(key)
        return "" if value is None else str(value).strip()

    for number, raw in rows:
        code = cell(raw, "code").upper()
        if code not in body["rows"]:
            problems.append((None, f"dòng {number}: hồ sơ «{code}» không có trong chương trình họp"))
            continue
        try:
            decision = Decision.read(cell(raw, "decision")).label
        except ValueError:
            decision = cell(raw, "decision")
            problems.append((code, f"dòng {number}: quyết định «{decision}» không đọc được"))
        written = [cell(raw, f) or "0" for f in WRITTEN]
        body["rows"][code] = {
            "decision": decision,
            "votes_for": cell(raw, "votes_for"),
            "votes_against": cell(raw, "votes_against"),
            "votes_abstain": cell(raw, "votes_abstain"),
            "votes_written": "/".join(written) if any(w != "0" for w in written) else "",
            "lower_award": cell(raw, "lower_award"),
            "note": cell(raw, "note"),
            "deadline": fmt_date(raw["deadline"])
            if isinstance(raw.get("deadline"), date)
            else cell(raw, "deadline"),
        }
    return problems


@router.post("/meetings/{meeting_id}/minutes/file", name="minutes_upload", response_class=HTMLResponse)
async def minutes_upload(request: Request, meeting_id: int, viewer: Viewer = Depends(guard)) -> Response:
    form = await request.form()
    return await run_in_threadpool(_minutes_upload, request, viewer, form)


def _minutes_upload(request: Request, viewer: Viewer, form: FormData) -> Response:
    """The minutes sheet (CSV/XLSX, the file `thidua meeting decide --file` reads) into the grid: saved as
    the draft, checked as typed rows are, nothing applied."""
    from cli.meetings import MINUTES_COLUMNS, MINUTES_HEADERS
    from models.meetings import MeetingStatus, council_of
    from models.portal import draft_of
    from models.sheets import FileRefused, read_rows

    meeting = viewer.obj
    if meeting.status != MeetingStatus.open or not meeting.waits_for_decisions:
        return _meeting_view(request, viewer, status_code=409, notice="Phiên họp này không còn chờ biên bản.")
    upload = form.get("file")
    folder = Path(tempfile.mkdtemp(prefix="thidua-portal-"))
    try:
        saved = (
            _saved_upload(upload, folder, MINUTES_SUFFIXES)
            if isinstance(upload, StarletteUploadFile)
            else "chưa chọn tệp"
        )
        if isinstance(saved, str):
            return _meeting_view(request, viewer, status_code=400, notice=f"Chưa đọc tệp biên bản: {saved}.")
        try:
            rows = read_rows(
                saved, columns=MINUTES_COLUMNS, labels=MINUTES_HEADERS, required=("code", "decision")
            )
        except FileRefused as exc:
            return _meeting_view(request, viewer, status_code=400, notice=f"Chưa đọc tệp biên bản: {exc}")
    finally:
        _remove(folder)
    with session_scope() as session:
        draft = draft_of(session, meeting.id)
        _, members = council_of(session=session, unit_id=meeting.unit_id)
    body = dict(draft.body) if draft else _grid_start(meeting, len(members))
    for k in ("meeting_date", "members_present"):
        if form.get(k):
            body[k] = str(form.get(k)).strip()
    body["rows"] = {code: dict(r) for code, r in body["rows"].items()}
    sheet_problems = _sheet_rows(rows, body)
    return _save_checked(request, viewer, body, sheet_problems)


@router.post("/meetings/{meeting_id}/confirm", name="minutes_confirm", response_class=HTMLResponse)
def minutes_confirm(request: Request, meeting_id: int, viewer: Viewer = Depends(guard)) -> HTMLResponse:
    from models.meetings import MeetingStatus
    from models.portal import draft_of, save_draft
    from portal import runs

    meeting = viewer.obj
    with session_scope() as session:
        draft = draft_of(session, meeting.id)
    if meeting.status != MeetingStatus.open or draft is None or not draft.ready:
        return _meeting_view(request, viewer, status_code=409, notice="Chưa có biên bản hợp lệ để xác nhận.")
    actor = f"{draft.saved_by}; xác nhận: {viewer.user.actor}"
    minutes, problems = _check_grid(meeting, draft.body, actor, viewer.hierarchy)
    if minutes is None:
        with session_scope() as session:
            save_draft(
                session=session,
                meeting_id=meeting.id,
                body=draft.body,
                problems=_stored(problems),
                saved_by=draft.saved_by,
            )
        return _meeting_view(
            request, viewer, status_code=400, notice="Biên bản chưa hợp lệ, chưa áp dụng gì."
        )
    try:
        outcome = runs.resume_meeting(meeting=meeting, minutes=minutes)
    except (runs.ServiceDown, runs.RunFailed) as exc:
        return _meeting_view(request, viewer, status_code=409, notice=str(exc))
    if isinstance(outcome, list):
        with session_scope() as session:
            save_draft(
                session=session,
                meeting_id=meeting.id,
                body=draft.body,
                problems=_stored([(None, p) for p in outcome]),
                saved_by=draft.saved_by,
            )
        return _meeting_view(
            request, viewer, status_code=400, notice="Phiên họp không nhận biên bản; xem lỗi."
        )
    with session_scope() as session:
        from models.meetings import Meeting

        viewer.obj = session.get(Meeting, meeting.id)
        d = draft_of(session, meeting.id)
        if d is not None:
            d.confirmed_by = viewer.user.actor
            session.add(d)
    return _meeting_view(request, viewer, applied=outcome, notice="Đã áp dụng biên bản.")


@router.post("/meetings/{meeting_id}/cancel", name="meeting_cancel", response_class=HTMLResponse)
def meeting_cancel(request: Request, meeting_id: int, viewer: Viewer = Depends(guard)) -> HTMLResponse:
    from portal import runs

    meeting = viewer.obj
    done = runs.cancel_meeting(
        meeting_id=meeting.id,
        run_id=meeting.flow_run_id,
        reason=f"hủy trên cổng Hội đồng bởi {viewer.user.actor}",
    )
    return page(
        request,
        "message.html",
        viewer,
        title="Đã hủy phiên họp" if done else "Phiên họp không còn mở",
        message="Không áp dụng gì; các hồ sơ chờ phiên họp sau."
        if done
        else "Phiên họp đã kết thúc trước đó.",
        back=f"/meetings/{meeting.id}",
    )


# --- Quyết định (the head's decision, recorded by the registry) -------------------------------------


def _papers(session: Session, *, code: str | None = None, decision: tuple[int, str] | None = None) -> list:
    """The stored papers recording a dossier, or a unit's decision by its number: their columns, never
    their bytes (id, kind, number, date, title, file name, issuing unit id), oldest first."""
    from models.documents import Document, DocumentKind, DocumentNomination
    from models.nominations import Nomination

    stmt = select(
        col(Document.id),
        col(Document.kind),
        col(Document.number),
        col(Document.issued_on),
        col(Document.title),
        col(Document.file_name),
        col(Document.unit_id),
        col(Document.to_unit_id),
    )
    if code is not None:
        stmt = (
            stmt.join(DocumentNomination, col(DocumentNomination.document_id) == col(Document.id))
            .join(Nomination, col(Nomination.id) == col(DocumentNomination.nomination_id))
            .where(col(Nomination.code) == code)
        )
    if decision is not None:
        stmt = stmt.where(
            col(Document.unit_id) == decision[0],
            col(Document.kind) == DocumentKind.decision,
            col(Document.number) == decision[1],
        )
    return list(session.execute(stmt.order_by(col(Document.id))).all())


def _shown_papers(viewer: Viewer, rows: list) -> list[dict]:
    """Papers as a page lists them: a download link only where the table lets this user have the file."""
    from models.documents import DocumentKind

    out = []
    for doc_id, kind, number, issued_on, title, file_name, unit_id, to_unit_id in rows:
        units = [viewer.hierarchy.get(unit_id)] + ([viewer.hierarchy.get(to_unit_id)] if to_unit_id else [])
        out.append(
            {
                "id": doc_id,
                "kind": DocumentKind(kind).label,
                "number": number,
                "issued_on": fmt_date(issued_on),
                "title": title,
                "file_name": file_name,
                "unit": units[0].name,
                "link": f"/documents/{doc_id}" if any(viewer.can("document", u) for u in units) else "",
            }
        )
    return out


DECISION_FIELDS = ("number", "auto_number", "decision_date", "signer", "action", "reason")


def _decisions_view(
    request: Request,
    viewer: Viewer,
    status_code: int = 200,
    *,
    typed: dict | None = None,
    ticked: list[str] | None = None,
    **extra: Any,
) -> HTMLResponse:
    from models.decisions import AwardDecision, awaiting_decision

    unit = viewer.target
    with session_scope() as session:
        groups = awaiting_decision(session=session, unit=unit, hierarchy=viewer.hierarchy)
        recent = session.scalars(
            select(AwardDecision)
            .where(col(AwardDecision.unit_id) == unit.id)
            .order_by(col(AwardDecision.id).desc())
            .limit(50)
        ).all()
        papers = {d.id: _shown_papers(viewer, _papers(session, decision=(unit.id, d.number))) for d in recent}
    form = {
        "number": "",
        "auto_number": "",
        "decision_date": fmt_date(today_vn()),
        "signer": "",
        "action": "confer",
        "reason": "",
        **(typed or {}),
    }
    return page(
        request,
        "decisions.html",
        viewer,
        status_code=status_code,
        unit=unit,
        groups=groups,
        waiting=sum(len(g["items"]) for g in groups),
        central=unit.level in CENTRAL_LEVELS,
        recent=recent,
        papers=papers,
        form=form,
        ticked=set(ticked or []),
        **extra,
    )


@router.get("/decisions", name="decisions", response_class=HTMLResponse)
def decisions(request: Request, viewer: Viewer = Depends(guard)) -> HTMLResponse:
    return _decisions_view(request, viewer)


@router.post("/decisions", name="decision_issue", response_class=HTMLResponse)
async def decision_issue(request: Request, viewer: Viewer = Depends(guard)) -> HTMLResponse:
    form = await request.form()
    return await run_in_threadpool(_decision_issue, request, viewer, form)


def _decision_request(viewer: Viewer, typed: dict, ticked: list[str]) -> tuple[dict, list[str]]:
    """The typed form as the `issue-decision` flow's parameters, and what cannot even be read. The
    ticked dossiers of one whole meeting go as that meeting (the decision then cites its minutes)."""
    from models.decisions import awaiting_decision, recommended_at

    problems = []
    try:
        day: date | None = parse_date(typed["decision_date"])
    except ValueError as exc:
        problems.append(f"Ngày quyết định: {exc}")
        day = None
    if not ticked:
        problems.append("chưa chọn hồ sơ nào: đánh dấu các hồ sơ mà quyết định này ghi")
    whole = None
    with session_scope() as session:
        groups = awaiting_decision(session=session, unit=viewer.target, hierarchy=viewer.hierarchy)
        for g in groups:  # every dossier the meeting recommended, all still waiting, and nothing else
            if (
                g["meeting_id"] is not None
                and recommended_at(session=session, meeting_id=g["meeting_id"]) == ticked
            ):
                whole = g["meeting_id"]
    refuse = typed["action"] == "refuse"
    parameters = {
        "unit": viewer.target.code,
        "decision_date": day,
        "number": typed["number"],
        "meeting_id": whole,
        "codes": [] if whole is not None else ticked,
        "refuse": refuse,
        "reason": typed["reason"] if refuse else "",
        "auto_number": bool(typed["auto_number"]),
        "signer": typed["signer"],
        "actor": viewer.user.actor,
    }
    return parameters, problems


def _decision_issue(request: Request, viewer: Viewer, form: FormData) -> HTMLResponse:
    from portal import runs

    typed = {f: str(form.get(f) or "").strip() for f in DECISION_FIELDS}
    ticked = sorted({str(c).strip().upper() for c in form.getlist("code") if str(c).strip()})
    parameters, problems = _decision_request(viewer, typed, ticked)
    if problems:
        return _decisions_view(request, viewer, 400, typed=typed, ticked=ticked, problems=problems)
    try:
        outcome, run_id = runs.issue_decision(**parameters)
    except runs.RunFailed as exc:
        return _decisions_view(request, viewer, 500, typed=typed, ticked=ticked, problems=[str(exc)])
    link = runs.run_link(run_id) if viewer.is_operator else ""
    if isinstance(outcome, list):
        return _decisions_view(
            request, viewer, 400, typed=typed, ticked=ticked, problems=outcome, run_link=link
        )
    return _decisions_view(request, viewer, issued=outcome, run_link=link)


@router.get("/documents/{doc_id}", name="document")
def document(doc_id: int, viewer: Viewer = Depends(guard)) -> Response:
    """A stored paper as it was stored (DOCX, XLSX), as `thidua docs get` writes it."""
    from models.documents import Document

    with session_scope() as session:
        doc = session.get(Document, viewer.obj)
        assert doc is not None  # the guard found it
        content, media_type, name = doc.content, doc.media_type, doc.file_name
    ascii_name = name.encode("ascii", "ignore").decode().replace('"', "") or "van-ban"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return Response(content, media_type=media_type, headers={"content-disposition": disposition})


# --- Thư, Báo cáo -----------------------------------------------------------------------------------


def unit_addresses(session: Session, unit: UnitRef) -> list[str]:
    from models.units import Council, CouncilMember

    addresses = {a.lower() for a in (unit.email, unit.head_email, unit.ntm_office_email) if a}
    addresses |= {
        e.lower()
        for e in session.scalars(select(col(Council.office_email)).where(col(Council.unit_id) == unit.id))
    }
    addresses |= {
        e.lower()
        for e in session.scalars(
            select(col(CouncilMember.email))
            .join(Council, col(Council.id) == col(CouncilMember.council_id))
            .where(col(Council.unit_id) == unit.id)
        )
    }
    return sorted(addresses)


@router.get("/letters", name="letters", response_class=HTMLResponse)
def letters(request: Request, viewer: Viewer = Depends(guard)) -> HTMLResponse:
    from notifications.outbox import OutboxMessage

    with session_scope() as session:
        addresses = unit_addresses(session, viewer.target)
        rows = session.scalars(
            select(OutboxMessage)
            .where(col(OutboxMessage.to_email).in_(addresses))
            .order_by(col(OutboxMessage.id).desc())
            .limit(200)
        ).all()
    return page(request, "letters.html", viewer, letters=rows, unit=viewer.target)


def _year(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        return today_vn().year


@router.get("/reports", name="reports", response_class=HTMLResponse)
def reports(
    request: Request, viewer: Viewer = Depends(guard), error: str = "", done: str = ""
) -> HTMLResponse:
    from models.deadlines import Deadline, Report
    from models.portal import uploads_of

    with session_scope() as session:
        rows = session.scalars(
            select(Report)
            .join(Deadline, col(Deadline.id) == col(Report.deadline_id))
            .where(col(Report.unit_id) == viewer.target.id, col(Deadline.recurrence) == "yearly")
            .order_by(col(Report.year).desc(), col(Report.sequence))
        ).all()
        uploads = uploads_of(session, [r.id for r in rows if r.id is not None])
    return page(
        request,
        "reports.html",
        viewer,
        reports=rows,
        uploads=uploads,
        unit=viewer.target,
        year=today_vn().year,
        error=error,
        done=done,
    )


@router.post("/reports", name="report_file", response_class=HTMLResponse)
async def report_file(request: Request, viewer: Viewer = Depends(guard)) -> Response:
    form = await request.form()  # already read by guard (cached)
    return await run_in_threadpool(
        _report_file, request, viewer, str(form.get("year") or ""), _form_file(form)
    )


def _report_file(request: Request, viewer: Viewer, year: str, file: StarletteUploadFile | None) -> Response:
    from models.portal import store_upload
    from models.reports import ReportRefused, file_report, yearly_report
    from models.settings import get_settings

    if file is None or not file.filename:
        return reports(request, viewer, error="chưa chọn tệp báo cáo")
    content = file.file.read(get_settings().file_max_bytes + 1)
    if len(content) > get_settings().file_max_bytes:
        return reports(request, viewer, error="tệp báo cáo quá lớn")
    name = Path(file.filename).name
    try:
        with session_scope() as session:
            filing = file_report(
                session=session,
                unit=viewer.target.code,
                year=_year(year),
                deadline=yearly_report(
                    session=session,
                    year=_year(year),
                    province=authz.province_of(viewer.hierarchy, viewer.target),
                ),
                filed_by=viewer.user.actor,
                file_name=name,
                hierarchy=viewer.hierarchy,
            )
            assert filing.report.id is not None
            upload = store_upload(
                session=session,
                report_id=filing.report.id,
                file_name=name,
                content=content,
                by=viewer.user.actor,
            )
    except ReportRefused as exc:
        return reports(request, viewer, error=str(exc))
    what = "bản bổ sung" if filing.amendment else "báo cáo"
    return reports(
        request, viewer, done=f"Đã nhận {what} năm {_year(year)}: {name} (SHA-256 {upload.sha256[:16]}…)"
    )


@router.get("/reports/status", name="report_status", response_class=HTMLResponse)
def report_status(request: Request, viewer: Viewer = Depends(guard), year: str = "") -> HTMLResponse:
    from models.reports import ReportRefused, filing_status, yearly_report

    province = authz.province_of(viewer.hierarchy, viewer.unit)
    area = province if province and viewer.user.role != Role.admin else None
    # the year asked for; without one (the operator's first page) the latest year that has a due date
    years = [_year(year)] if year.strip() else list(range(today_vn().year, today_vn().year - 10, -1))
    error, spec = "", None
    rows: list = []
    for y in years:
        try:
            with session_scope() as session:
                spec, rows = filing_status(
                    session=session,
                    year=y,
                    deadline=yearly_report(session=session, year=y, province=area),
                    province=area.code if area else None,
                    hierarchy=viewer.hierarchy,
                )
            error = ""
            break
        except ReportRefused as exc:
            error = error or str(exc)  # none found: the refusal of the year asked for (or this year)
    else:
        y = years[0]
    filed = sum(1 for r in rows if r.filed)
    found: dict[str, Any] = {"rows": rows, "year": y, "spec": spec, "error": error}
    return page(request, "report_status.html", viewer, filed=filed, province=province, **found)


# --- Tổng hợp ---------------------------------------------------------------------------------------


def area_figures(*, session: Session, hierarchy: Hierarchy, area: UnitRef | None, today: date) -> dict:
    """The movement's figures for a province (None: the whole country), from the dashboard's functions."""
    from models.awards import catalogue
    from models.dashboard import home_province, overdue_reviews, pipeline_by_province, province_plans
    from models.nominations import Nomination, Status
    from models.reports import ReportRefused, filing_status, yearly_report

    def inside(unit_id: int) -> bool:
        if area is None:
            return True
        province = home_province(hierarchy, unit_id)
        return province is not None and province.id == area.id

    pipeline: Counter = Counter()
    by_level: dict[str, Counter] = {}
    for r in pipeline_by_province(session=session, hierarchy=hierarchy):
        if area is None or r.province_code == area.code:
            pipeline.update(r.counts)
            by_level.setdefault(r.level.label, Counter()).update(r.counts)
    conferred: Counter = Counter()
    rows = session.execute(
        select(
            col(Nomination.origin_unit_id), col(Nomination.awarded_code), col(Nomination.award_code)
        ).where(col(Nomination.status) == Status.conferred)
    )
    forms = catalogue().forms
    for origin, awarded, proposed in rows:
        if inside(origin):
            conferred[awarded or proposed] += 1
    by_form = sorted(((forms[c], n) for c, n in conferred.items() if c in forms), key=lambda fn: fn[0].rank)
    try:
        _, statuses = filing_status(
            session=session,
            year=today.year,
            deadline=yearly_report(session=session, year=today.year, province=area),
            province=area.code if area else None,
            hierarchy=hierarchy,
        )
        filing: tuple[int, int] | None = (sum(1 for x in statuses if x.filed), len(statuses))
    except ReportRefused:
        filing = None
    overdue = [
        u
        for u in overdue_reviews(session=session, hierarchy=hierarchy, today=today)
        if area is None or u.province == area.name
    ]
    plan = next(
        (p for p in province_plans() if area is not None and area.code in (p.province, *p.successors)), None
    )
    return {
        "pipeline": [(s.label, pipeline[s]) for s in Status if pipeline[s]],
        "by_level": by_level,
        "conferred": [(f.name, n) for f, n in by_form],
        "filing": filing,
        "overdue": [(u.unit, len(u.items)) for u in overdue],
        "plan": plan,
    }


@router.get("/summary", name="summary", response_class=HTMLResponse)
def summary(request: Request, viewer: Viewer = Depends(guard)) -> HTMLResponse:
    area = None if viewer.user.role == Role.admin else authz.province_of(viewer.hierarchy, viewer.unit)
    with session_scope() as session:
        figures = area_figures(session=session, hierarchy=viewer.hierarchy, area=area, today=today_vn())
    return page(request, "summary.html", viewer, area=area, **figures)


# --- the application --------------------------------------------------------------------------------


HTTP_MESSAGES = {
    404: "Không có trang này.",
    405: "Trang này không nhận yêu cầu kiểu này; hãy mở lại từ trình đơn.",
    413: "Tệp quá lớn.",
    422: "Biểu mẫu thiếu hoặc sai dữ liệu; tải lại trang rồi làm lại.",
}


# What the routes import lazily (to keep `thidua --help` quick), imported when the app is made: the first
# request that needed Prefect (a minutes grid's check) used to import it under the GIL, stalling every
# page of the process for 3-11 s.
PRELOAD = (
    "cli.meetings",
    "cli.nominations",
    "flows.inputs",
    "models.dashboard",
    "models.decisions",
    "models.documents",
    "models.intake",
    "models.meetings",
    "models.portal",
    "models.queries",
    "models.reports",
    "models.sheets",
    "notifications.outbox",
    "portal.runs",
    "prefect.deployments.flow_runs",
    "prefect.flow_runs",
)


def _preload() -> None:
    """Import the routes' modules, compile every template and read the unit tree (each process of
    `thidua portal --workers N` does), before the first request."""
    import importlib

    from sqlalchemy.exc import SQLAlchemyError

    for name in PRELOAD:
        importlib.import_module(name)
    for name in templates.env.list_templates(extensions=["html"]):
        templates.env.get_template(name)
    try:
        with session_scope() as session:
            Hierarchy.load(session)
    except SQLAlchemyError:  # no database yet (it is migrated after): the first page reads the tree
        pass


def create_app() -> FastAPI:
    _preload()
    app = FastAPI(
        title="Cổng Hội đồng Thi đua – Khen thưởng", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(router)

    @app.exception_handler(NotLoggedIn)
    async def _not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = back_to("/login?next=" + quote(target if request.method == "GET" else "/"))
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.exception_handler(Denied)
    async def _denied(request: Request, exc: Denied) -> Response:
        titles = {403: "Không có quyền", 404: "Không tìm thấy"}
        message = exc.message or (
            "Tài khoản của bạn không làm được việc này."
            if exc.status == 403
            else "Không có trang hoặc hồ sơ này."
        )
        return page(
            request,
            "message.html",
            None,
            status_code=exc.status,
            title=titles.get(exc.status, "Lỗi"),
            message=message,
        )

    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return page(
            request,
            "message.html",
            None,
            status_code=exc.status_code,
            title="Không tìm thấy" if exc.status_code == 404 else "Lỗi",
            message=HTTP_MESSAGES.get(exc.status_code, "Yêu cầu không thực hiện được."),
        )

    return SecurityHeaders(app)  # type: ignore[return-value]


def app_factory() -> ASGIApp:
    """For uvicorn (`thidua portal`): connect to the running service's Prefect API first."""
    import logging.config

    from uvicorn.config import LOGGING_CONFIG

    from portal.runs import service

    service()
    import flows.council  # noqa: F401  Prefect configures logging when imported: before uvicorn's comes back
    import flows.intake  # noqa: F401

    logging.config.dictConfig(LOGGING_CONFIG)  # the access log (paths and status codes, never bodies)
    return create_app()
