"""The route × role matrix, generated from the one table (portal/authz.py ROUTES): every route, every
role, against objects of the user's own unit, a unit below it, another unit of the same province and a
unit of another province — GET pages and POSTs carrying another unit's IDs. Allowed answers are never
403/404 nor a login redirect; a role without a rule gets 403; an object outside the rule 404."""

from __future__ import annotations

import pytest

from portal.authz import ROUTES, Scope, decide
from tests.portal.conftest import OTHER, PROVINCE, USERS, A, B, login

OBJECT_UNITS = (A, B, PROVINCE, OTHER)

_clients: dict[str, tuple] = {}


def as_user(username: str):
    if username not in _clients:
        _clients[username] = login(username)
    return _clients[username]


def cases() -> list:
    out = []
    for route, spec in ROUTES.items():
        for username in USERS:
            if spec.scope == Scope.user:
                out.append(pytest.param(route, username, None, id=f"{route}-{username}"))
                continue
            for unit in OBJECT_UNITS:
                out.append(pytest.param(route, username, unit, id=f"{route}-{username}-{unit}"))
    return out


def request_for(route: str, unit: str | None, world, csrf: str):
    """(method, url, form data, files) that asks `route` about `unit`'s object; None if it has none."""
    code = world.codes.get(unit or "")
    meeting = world.meetings.get(unit or "")
    document = world.documents.get(unit or "")
    post = {"csrf": csrf, **({"unit": unit} if unit else {})}
    q = f"?unit={unit}" if unit else ""
    table = {
        "home": ("GET", "/", None),
        "password_form": ("GET", "/password", None),
        "password": ("POST", "/password", {"csrf": csrf, "current": "sai", "new": "x", "again": "y"}),
        "logout": ("POST", "/logout", {"csrf": csrf}),
        "inbox": ("GET", f"/inbox{q}", None),
        "dossier": ("GET", f"/dossiers/{code}", None) if code else None,
        "resubmit": ("POST", f"/dossiers/{code}/resubmit", {"csrf": csrf}) if code else None,
        "nominate_form": ("GET", f"/nominate{q}", None),
        "nominate": ("POST", "/nominate", post),
        "nominate_template": ("GET", "/nominate/mau-ho-so.xlsx", None),
        "meetings": ("GET", f"/meetings{q}", None),
        "meeting_open": ("POST", "/meetings/open", post),
        "meeting": ("GET", f"/meetings/{meeting}", None) if meeting else None,
        "minutes_save": ("POST", f"/meetings/{meeting}/minutes", {"csrf": csrf}) if meeting else None,
        "minutes_upload": ("POST", f"/meetings/{meeting}/minutes/file", {"csrf": csrf}) if meeting else None,
        "minutes_confirm": ("POST", f"/meetings/{meeting}/confirm", {"csrf": csrf}) if meeting else None,
        "meeting_cancel": ("POST", f"/meetings/{meeting}/cancel", {"csrf": csrf}) if meeting else None,
        "decisions": ("GET", f"/decisions{q}", None),
        "decision_issue": (
            "POST",
            "/decisions",
            {**post, "number": "1/QĐ-UBND", "decision_date": "01/12/2026"},
        ),
        "document": ("GET", f"/documents/{document}", None) if document else None,
        "letters": ("GET", f"/letters{q}", None),
        "reports": ("GET", f"/reports{q}", None),
        "report_file": ("POST", "/reports", {**post, "year": "2025"}),
        "report_status": ("GET", "/reports/status", None),
        "summary": ("GET", "/summary", None),
    }
    return table[route]


@pytest.mark.parametrize(("route", "username", "unit"), cases())
def test_route_role_matrix(world, prefect_api, route: str, username: str, unit: str | None) -> None:
    from sqlmodel import Session

    from models.accounts import Role
    from models.db import get_engine
    from models.hierarchy import Hierarchy

    role_name, user_unit, _ = USERS[username]
    with Session(get_engine(world.url)) as s:
        hierarchy = Hierarchy.load(s)
    if route == "logout":
        c, csrf = login(username)  # its own session: the others carry on
    else:
        c, csrf = as_user(username)
    asked = request_for(route, unit, world, csrf)
    if asked is None:
        pytest.skip(f"{unit} has no such object in the world")
    method, url, data = asked
    target = hierarchy.by_code[unit or user_unit]
    expected = decide(
        route, Role(role_name), user_unit=hierarchy.by_code[user_unit], targets=[target], hierarchy=hierarchy
    )
    files = {"file": ("bao-cao.txt", b"bao cao")} if route == "report_file" else None
    r = c.request(method, url, data=data, files=files) if method == "POST" else c.get(url)
    if expected == 200 and route == "logout":
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert c.get("/inbox").status_code == 303
    elif expected == 200:
        assert r.status_code not in (403, 404) and r.status_code < 500, (r.status_code, r.text[:500])
        assert not r.headers.get("location", "").startswith("/login"), (
            "an allowed request was sent to the login"
        )
    else:
        assert r.status_code == expected, (r.status_code, r.text[:300])
        if expected == 404 and unit:
            assert (world.codes.get(unit) or "@@") not in r.text  # never the other council's data
            assert not r.content.startswith(b"PK")  # nor its papers


def test_the_matrix_covers_every_route_of_the_app() -> None:
    from portal.web import router

    named = {r.name for r in router.routes if getattr(r, "methods", None)}
    assert named - {"login", "login_form"} == set(ROUTES)
    for r in router.routes:
        if getattr(r, "name", None) in ROUTES:
            assert ROUTES[r.name].method in r.methods, r.name
            assert any(d.call.__name__ == "guard" for d in r.dependant.dependencies), (
                f"{r.name} is not guarded"
            )


def test_what_each_person_sees(world) -> None:
    """The rules in words: secretary A sees A's dossier, B sees none of it, the province's operator and
    secretary see both communes (read-only), the other province's operator sees neither."""
    a, b, other = world.codes[A], world.codes[B], world.codes[OTHER]
    sec_a, _ = as_user("tk.a")
    sec_b, _ = as_user("tk.b")
    op, _ = as_user("vh.tinh")
    op_other, _ = as_user("vh.qt")
    assert sec_a.get(f"/dossiers/{a}").status_code == 200
    assert sec_b.get(f"/dossiers/{a}").status_code == 404
    assert a not in sec_b.get("/inbox").text and a not in sec_b.get(f"/inbox?unit={B}").text
    assert sec_b.get(f"/inbox?unit={A}").status_code == 404
    for code in (a, b):
        assert op.get(f"/dossiers/{code}").status_code == 200
        assert op_other.get(f"/dossiers/{code}").status_code == 404
    assert op.get(f"/dossiers/{other}").status_code == 404
    assert op_other.get(f"/dossiers/{other}").status_code == 200
    province, _ = as_user("tk.tinh")
    assert province.get(f"/dossiers/{a}").status_code == 200
    assert a in province.get(f"/inbox?unit={A}").text
    # read-only below: the province's secretary cannot act for the commune
    assert (
        province.post("/meetings/open", data={"csrf": _clients["tk.tinh"][1], "unit": A}).status_code == 404
    )


def test_a_name_another_unit_also_bears_files_nothing(world, prefect_api) -> None:
    """«xã Cẩm Tú» names a commune before 1/7/2025 and another after it, neither of them A: the portal
    resolves a row's unit as the intake does (on the row's date) and refuses the file, storing nothing;
    without a readable date the name could be either, so it is refused asking for A's code."""
    from sqlalchemy import func, select
    from sqlmodel import Session

    from models.db import get_engine
    from models.nominations import Nomination
    from tests.portal.conftest import csv_bytes, row

    def stored() -> int:
        with Session(get_engine(world.url)) as s:
            return int(s.scalar(select(func.count()).select_from(Nomination)) or 0)

    c, csrf = as_user("tk.a")
    before = stored()
    dated = [row(A, "Phạm Văn Dũng"), row("xã Cẩm Tú", "Ngô Văn Phúc")]
    r = c.post("/nominate", data={"csrf": csrf}, files={"file": ("ds.csv", csv_bytes(dated), "text/csv")})
    assert r.status_code == 400, r.text[:500]
    assert "«xã Cẩm Tú» (xã Cẩm Tú) không phải đơn vị của bạn" in r.text
    assert stored() == before
    undated = [{**row("xã Cẩm Tú", "Ngô Văn Phúc"), "submitted_on": "hôm qua"}]
    r = c.post("/nominate", data={"csrf": csrf}, files={"file": ("ds.csv", csv_bytes(undated), "text/csv")})
    assert r.status_code == 400
    assert f"tên đơn vị «xã Cẩm Tú» trùng với nhiều đơn vị; ghi mã đơn vị {A}" in r.text
    assert stored() == before
