"""The papers of a council meeting (văn bản: minutes, submission letters and lists), made after its
decisions are applied, and their listing as the meeting's Prefect artifact (`documents-meeting-<id>`);
the head's quyết định, made by the decision step (`documents-decision-<unit>-<number>`).

The meeting's papers are made in its own transaction, in a savepoint (`documents.papers.meeting_papers_now`),
so the letters queued with it cite the tờ trình's number; a template a province broke in Word never holds
back the council's decisions: the papers are tried again here, in a transaction of their own, and a
failure is said in the artifact and the run's log (`thidua docs make --meeting N` once the template is
mended). A re-run makes nothing twice. Each paper is listed with its `thidua docs get` command and, when
THIDUA_PORTAL_URL is set, a link to its download page on the portal; the decision on a meeting's
recommendations joins the meeting's listing.

Named paperwork, never documents: Prefect loads an entrypoint (flows/council.py) as a script with flows/
first on sys.path, so a flows/documents.py would stand in for the documents package and crash the run.
"""

from __future__ import annotations

from datetime import date

from anyio import to_thread
from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from pydantic import BaseModel

from documents.papers import documents_for_decision, documents_for_meeting
from documents.render import TemplateProblem
from models.db import session_scope
from models.documents import Document, documents_of
from models.hierarchy import Hierarchy
from models.meetings import Meeting
from models.settings import get_settings
from models.text import slug


class Paper(BaseModel):
    """A stored document as a listing shows it."""

    id: int
    kind: str
    number: str
    title: str
    file_name: str
    sha256: str

    @classmethod
    def of(cls, doc: Document) -> Paper:
        assert doc.id is not None
        return cls(
            id=doc.id,
            kind=doc.kind.label,
            number=doc.number,
            title=doc.title,
            file_name=doc.file_name,
            sha256=doc.sha256,
        )


def make_meeting_papers(meeting_id: int) -> list[Paper]:
    """The meeting's papers, made if missing (the meeting's transaction made them unless a template
    failed), in one transaction; with the decision on its recommendations once the head has decided."""
    with session_scope() as session:
        meeting = session.get(Meeting, meeting_id)
        if meeting is None:
            raise LookupError(f"không có phiên họp #{meeting_id}")
        documents_for_meeting(session=session, meeting=meeting, hierarchy=Hierarchy.load(session))
        return [Paper.of(d) for d in documents_of(session=session, meeting_id=meeting_id)]


def download_link(paper: Paper) -> str:
    """The paper's download page on the portal (markdown), when the portal's address is set."""
    base = (get_settings().portal_url or "").rstrip("/")
    return f"[{paper.file_name}]({base}/documents/{paper.id})" if base else ""


def papers_markdown(of: str, papers: list[Paper], problem: str | None = None) -> str:
    lines = [f"## Văn bản của {of}", ""]
    if problem:
        lines += [f"**Chưa tạo được văn bản:** {problem}", "", "Sửa mẫu rồi chạy `thidua docs make`."]
        return "\n".join(lines)
    portal = bool(get_settings().portal_url)
    lines += [
        "| ID | Loại | Số, ký hiệu | Tên văn bản | Tệp | Lấy về |" + (" Tải từ cổng |" if portal else ""),
        "| --- | --- | --- | --- | --- | --- |" + (" --- |" if portal else ""),
    ]
    lines += [
        f"| {p.id} | {p.kind} | {p.number} | {p.title} | {p.file_name} | `thidua docs get {p.id} -o {p.file_name}` |"
        + (f" {download_link(p)} |" if portal else "")
        for p in papers
    ]
    return "\n".join(lines)


async def publish_meeting_papers(meeting_id: int, papers: list[Paper], problem: str | None = None) -> None:
    await acreate_markdown_artifact(
        key=f"documents-meeting-{meeting_id}",
        markdown=papers_markdown(f"phiên họp #{meeting_id}", papers, problem),
        description=f"Văn bản của phiên họp #{meeting_id}",
    )


@task(name="meeting-papers")
async def meeting_papers(meeting_id: int) -> list[Paper]:
    """Make the minutes, submission letters and lists of an applied meeting; list them (its recommended
    dossiers get their quyết định from the decision step: `decision_paper`).

    Whatever goes wrong here is said in the artifact and the log, never raised: the meeting is applied."""
    problem = None
    try:
        papers = await to_thread.run_sync(lambda: make_meeting_papers(meeting_id))
    except TemplateProblem as exc:
        papers, problem = [], str(exc)
        get_run_logger().warning("meeting %s: papers not made: %s", meeting_id, problem)
    except Exception as exc:  # a bug or a database hiccup: the papers can be made later, the decisions stand
        papers, problem = [], f"lỗi khi tạo văn bản ({type(exc).__name__}); xem nhật ký của lượt chạy"
        get_run_logger().exception("meeting %s: papers not made", meeting_id)
    await publish_meeting_papers(meeting_id, papers, problem)
    return papers


def make_decision_paper(
    unit: str, number: str, day: date, codes: list[str], signer: str = "", meeting_id: int | None = None
) -> Paper:
    """The decision's paper (quyết định kèm danh sách), made if missing, in one transaction."""
    with session_scope() as session:
        hierarchy = Hierarchy.load(session)
        doc = documents_for_decision(
            session=session,
            hierarchy=hierarchy,
            unit_id=hierarchy.resolve(unit, on=day).id,
            number=number,
            day=day,
            codes=codes,
            signer=signer,
            meeting_id=meeting_id,
        )
        return Paper.of(doc)


@task(name="decision-paper", retries=2, retry_delay_seconds=5)
async def decision_paper(
    unit: str, number: str, day: date, codes: list[str], signer: str = "", meeting_id: int | None = None
) -> Paper | None:
    """Make the head's decision as a paper (the decision step calls it once the decision is recorded)."""
    try:
        paper = await to_thread.run_sync(
            lambda: make_decision_paper(unit, number, day, codes, signer, meeting_id)
        )
    except TemplateProblem as exc:
        get_run_logger().warning("decision %s of %s: paper not made: %s", number, unit, exc)
        return None
    await acreate_markdown_artifact(
        key=f"documents-decision-{slug(unit)}-{slug(number)}"[:100],
        markdown=papers_markdown(f"quyết định {number}", [paper]),
        description=f"Quyết định {number} của {unit}",
    )
    if meeting_id is not None:  # the meeting's listing, its decision added (a new version of its artifact)
        await publish_meeting_papers(meeting_id, await to_thread.run_sync(lambda: listed(meeting_id)))
    return paper


def listed(meeting_id: int) -> list[Paper]:
    """Every stored paper of the meeting (its own and its decision's), oldest first."""
    with session_scope() as session:
        return [Paper.of(d) for d in documents_of(session=session, meeting_id=meeting_id)]
