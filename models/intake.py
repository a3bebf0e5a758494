"""Intake (tiếp nhận hồ sơ): validate a batch of rows, screen each against the rules, store the lot.

A batch with any bad row is refused whole, every error named by row and rule in Vietnamese, and
nothing is stored. A batch already stored (same key) is not stored again.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from sqlalchemy import Table, select
from sqlalchemy import inspect as sa_inspect
from sqlmodel import Session, col
from typing_extensions import TypedDict

from models import staging
from models.awards import (
    KIND_ALIASES,
    REVIEW_TYPE_ALIASES,
    AwardForm,
    Catalogue,
    NomineeKind,
    ReviewType,
    RuleSet,
    catalogue,
)
from models.calendar import add_working_days
from models.campaigns import Campaign
from models.clock import fmt_date, latest_date, parse_date, today_vn, utcnow
from models.db import column_length, insert_for
from models.hierarchy import AmbiguousUnit, Hierarchy, NoRoute, UnitNotFound, UnitRef
from models.namesakes import Namesake, namesakes
from models.nominations import (
    BLOCKS_NEW,
    Action,
    IntakeBatch,
    Nomination,
    NominationStep,
    Nominee,
    Status,
    take_numbers,
)
from models.settings import get_settings
from models.sheets import Limits, number_vi, read_rows, too_many_rows
from models.text import fold, nfc
from models.units import Unit

# The columns of a nomination file since the first template; then the dossier's details (issue 13), optional
# so that files from before them still read (the review type is asked for by the rows whose form depends
# on it: review_types in award_forms.yaml).
COLUMNS = ("nominee", "kind", "unit", "award", "campaign", "achievement", "submitted_on")
DETAIL_COLUMNS = ("review_type", "birth_year", "position", "workplace")
FILE_COLUMNS = COLUMNS + DETAIL_COLUMNS
REQUIRED_COLUMNS = ("nominee", "kind", "unit", "award", "submitted_on")
HEADERS_VI = {
    "nominee": "Tên đối tượng",
    "kind": "Loại đối tượng",
    "unit": "Đơn vị đề nghị",
    "award": "Hình thức khen thưởng",
    "campaign": "Phong trào",
    "achievement": "Tóm tắt thành tích",
    "submitted_on": "Ngày hồ sơ",
    "review_type": "Đợt xét khen thưởng",
    "birth_year": "Năm sinh",
    "position": "Chức vụ",
    "workplace": "Nơi công tác",
}
# Other headers officials' lists use for the same columns (compared without case or diacritics).
HEADER_SYNONYMS = {
    "nominee": ("Họ và tên", "Họ tên", "Họ tên / tên tập thể"),
    "review_type": ("Đợt xét", "Loại đợt xét", "Khen thưởng khi", "Sơ kết / tổng kết"),
    "birth_year": ("Sinh năm", "Năm sinh (cá nhân)"),
    "position": ("Chức vụ, nghề nghiệp", "Nghề nghiệp", "Chức danh"),
    "workplace": ("Đơn vị công tác", "Nơi làm việc", "Nơi công tác, cư trú", "Nơi cư trú"),
}
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


# Each text field's limit is the length of the column it is stored in (or looked up in): one source, so
# a file is refused with a message instead of failing in the database (PostgreSQL) or storing more
# than the column declares (SQLite).
NOMINEE_MAX = column_length(Nominee, "name")
UNIT_REF_MAX = max(column_length(Unit, "code"), column_length(Unit, "name"))
AWARD_MAX = column_length(Nomination, "award_code")
CAMPAIGN_MAX = column_length(Campaign, "code")
ACHIEVEMENT_MAX = column_length(Nomination, "achievement")
DATE_TEXT_MAX = 40  # longer than any way of writing a date
NAME_KEY_MAX = column_length(Nominee, "name_key")
SOURCE_MAX = column_length(IntakeBatch, "source")
ACTOR_MAX = min(column_length(IntakeBatch, "actor"), column_length(NominationStep, "actor"))
NOTE_MAX = column_length(NominationStep, "note")
POSITION_MAX = column_length(Nomination, "nominee_position")
WORKPLACE_MAX = column_length(Nomination, "nominee_workplace")
EARLIEST_BIRTH_YEAR = 1900


class NominationRow(BaseModel):
    """One row of a nomination file, as an official fills it in."""

    model_config = ConfigDict(str_strip_whitespace=True)

    nominee: str = Field(max_length=NOMINEE_MAX)
    kind: NomineeKind
    unit: str = Field(max_length=UNIT_REF_MAX)
    award: str = Field(max_length=AWARD_MAX)
    campaign: str = Field(default="ntm-2021-2025", max_length=CAMPAIGN_MAX)
    achievement: str = Field(default="", max_length=ACHIEVEMENT_MAX)
    submitted_on: date
    review_type: ReviewType | None = None
    birth_year: int | None = None
    position: str = Field(default="", max_length=POSITION_MAX)
    workplace: str = Field(default="", max_length=WORKPLACE_MAX)

    @field_validator(
        "nominee", "unit", "award", "campaign", "achievement", "position", "workplace", mode="before"
    )
    @classmethod
    def _text(cls, value: Any) -> str:
        raw = "" if value is None else str(value)
        if _CONTROL.search(raw.strip()):
            raise ValueError("có ký tự điều khiển (xuống dòng, tab…) không hợp lệ")
        return nfc(raw)

    @field_validator("nominee", "unit", "award")
    @classmethod
    def _required(cls, value: str) -> str:
        if not value:
            raise ValueError("không được để trống")
        return value

    @field_validator("nominee")
    @classmethod
    def _name_key_fits(cls, value: str) -> str:
        # the folded look-up key is stored too, and folding may lengthen a name ("ß" → "ss")
        if len(fold(value)) > NAME_KEY_MAX:
            raise ValueError(f"dài quá {NOMINEE_MAX} ký tự")
        return value

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> NomineeKind:
        key = _kind_key(str(value or ""))
        if key not in KIND_ALIASES:
            raise ValueError(
                "phải là một trong: cá nhân, tập thể (doanh nghiệp, hợp tác xã là tập thể), hộ gia đình"
            )
        return KIND_ALIASES[key]

    @field_validator("review_type", mode="before")
    @classmethod
    def _review_type(cls, value: Any) -> ReviewType | None:
        text = "" if value is None else str(value)
        if not text.strip():
            return None
        key = _kind_key(text) if len(text) <= DATE_TEXT_MAX else ""
        if key not in REVIEW_TYPE_ALIASES:
            raise ValueError("phải là một trong: thường xuyên, chuyên đề, sơ kết, tổng kết")
        return REVIEW_TYPE_ALIASES[key]

    @field_validator("birth_year", mode="before")
    @classmethod
    def _birth_year(cls, value: Any) -> int | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = str(value).strip()
        if isinstance(value, bool) or not (len(text) == 4 and text.isdigit()):
            raise ValueError("năm sinh phải là năm gồm 4 chữ số, ví dụ 1970")
        return int(text)

    @field_validator("birth_year")
    @classmethod
    def _birth_year_fits(cls, value: int | None, info: ValidationInfo) -> int | None:
        # kind and submitted_on come before in the row: checked already (absent here if they were wrong)
        kind, day = info.data.get("kind"), info.data.get("submitted_on")
        if value is None:
            return None
        if kind is not None and kind != NomineeKind.individual:
            raise ValueError(f"năm sinh chỉ ghi cho cá nhân; đối tượng này là {kind.label}")
        last = day.year if day else today_vn().year
        if not EARLIEST_BIRTH_YEAR <= value <= last:
            raise ValueError(
                f"năm sinh {value} không hợp lệ (từ {EARLIEST_BIRTH_YEAR} đến {last}, năm của hồ sơ)"
            )
        return value

    @field_validator("submitted_on", mode="before")
    @classmethod
    def _date(cls, value: Any) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = "" if value is None else str(value)
        if len(text) > DATE_TEXT_MAX:
            raise ValueError("ngày không hợp lệ, cần dạng dd/mm/yyyy")
        return parse_date(text)


def _wrong_review(form: AwardForm, given: ReviewType | None) -> str:
    """Why a dossier's review type does not fit its form (the form's review types are data)."""
    wanted = " hoặc ".join(r.label for r in ReviewType if r in (form.review_types or ()))
    years = f" có thời gian từ {form.min_movement_years} năm trở lên" if form.min_movement_years else ""
    rule = f"«{form.name}» chỉ xét khi {wanted} phong trào{years} ({form.review_types_basis})"
    if given is None:
        return f"chưa ghi đợt xét (thường xuyên, chuyên đề, sơ kết hoặc tổng kết); {rule}"
    return f"hồ sơ {given.label} không đủ điều kiện: {rule}"


def award_index(cat: Catalogue | None = None) -> dict[str, AwardForm]:
    """Every form by the folded spellings a row may give it: code, Vietnamese name, short name."""
    forms = (cat or catalogue()).forms.values()
    return {
        **{fold(f.short): f for f in forms},
        **{fold(f.name): f for f in forms},
        **{fold(f.code): f for f in forms},
    }


def award_form(text: str, index: dict[str, AwardForm] | None = None) -> AwardForm | None:
    """The award form a row names: its code (giay-khen-xa) or its Vietnamese name as the portal shows it
    («Giấy khen của Chủ tịch UBND xã», also «giay khen cua chu tich ubnd xa»: without case or diacritics),
    or its short name («Giấy khen xã»). None if it names no form."""
    return (index if index is not None else award_index()).get(fold(text))


@lru_cache(maxsize=256)
def _kind_key(text: str) -> str:
    return fold(text)


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        if not self.row:  # the batch as a whole (row 0)
            return self.message
        where = f"dòng {self.row}" + (
            f", cột «{HEADERS_VI.get(self.column, self.column)}»" if self.column else ""
        )
        return f"{where}: {self.message}"


@dataclass
class Screened:
    """A row that passed every check, with what the checks found."""

    row: int
    data: NominationRow
    unit: UnitRef
    form: AwardForm
    rule_set: RuleSet
    campaign: Campaign
    chain: list[UnitRef]
    name_key: str


@dataclass
class Screening:
    accepted: list[Screened] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


class BatchRefused(ValueError):
    """The batch has errors; none of it was stored."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__(f"hồ sơ bị từ chối: {len(errors)} lỗi; không dòng nào được lưu")

    @property
    def refusal(self) -> IntakeRefused:
        return IntakeRefused(errors=self.errors)


def parse_rows(rows: list[tuple[int, dict]]) -> tuple[list[tuple[int, NominationRow]], list[RowError]]:
    """Validate each raw row's shape; errors name the row and the column."""
    good, errors = [], []
    for number, raw in rows:
        try:
            good.append((number, NominationRow.model_validate(raw)))
        except ValidationError as exc:
            for err in exc.errors():
                column = str(err["loc"][0]) if err["loc"] else None
                message = err["msg"].removeprefix("Value error, ")
                if err["type"] == "missing":
                    message = "thiếu dữ liệu"
                elif err["type"] == "string_too_long":
                    message = (
                        f"dài {number_vi(len(err['input']))} ký tự, vượt quá giới hạn "
                        f"{number_vi(err['ctx']['max_length'])} ký tự"
                    )
                errors.append(RowError(number, column, message))
    return good, errors


def _campaigns(session: Session) -> dict[str, Campaign]:
    return {c.code: c for c in session.scalars(select(Campaign))}


# A row's problem: the column it is in (None: the row as a whole) and what is wrong, in an official's words.
Problem = tuple[str | None, str]


def screen(
    *,
    session: Session,
    rows: list[tuple[int, NominationRow]],
    hierarchy: Hierarchy,
    today: date | None = None,
) -> Screening:
    """Check every rule an intake can check (DOMAIN.md, "Standards the software can check at intake")."""
    today = today or today_vn()
    cat = catalogue()
    forms_by_key = award_index(cat)
    campaigns = _campaigns(session)
    out = Screening()
    candidates: list[Screened] = []
    for number, row in rows:
        campaign = campaigns.get(row.campaign)
        form = award_form(row.award, forms_by_key)
        rule_set = cat.rule_set_on(row.submitted_on)
        unit, unit_problems = _unit_of(row, hierarchy)
        problems = [*_date_problems(row, campaign, today), *unit_problems]
        problems += [
            p
            for p in (_form_problem(row, form, rule_set, campaign, cat), _final_review_problem(row, campaign))
            if p
        ]
        chain: list[UnitRef] = []
        if not problems and unit is not None and form is not None:
            chain, problem = _chain_of(unit, form, hierarchy)
            problems += [problem] if problem else []
        out.errors.extend(RowError(number, column, message) for column, message in problems)
        if not problems:
            assert unit and form and rule_set and campaign
            candidates.append(Screened(number, row, unit, form, rule_set, campaign, chain, fold(row.nominee)))
    _screen_nominees(session=session, candidates=candidates, out=out)
    return out


def _date_problems(row: NominationRow, campaign: Campaign | None, today: date) -> list[Problem]:
    """The movement the row names exists, and the dossier's date is within its window and not to come."""
    problems: list[Problem] = []
    if campaign is None:
        problems.append(("campaign", f"phong trào «{row.campaign}» không có trong hệ thống"))
    elif not campaign.accepts_from <= row.submitted_on <= campaign.accepts_until:
        problems.append(
            (
                "submitted_on",
                f"ngày hồ sơ {fmt_date(row.submitted_on)} nằm ngoài thời gian xét khen thưởng của phong trào "
                f"«{campaign.name}» ({fmt_date(campaign.accepts_from)}–{fmt_date(campaign.accepts_until)})",
            )
        )
    if row.submitted_on > today:
        problems.append(
            ("submitted_on", f"ngày hồ sơ {fmt_date(row.submitted_on)} chưa đến (hôm nay {fmt_date(today)})")
        )
    return problems


def _unit_of(row: NominationRow, hierarchy: Hierarchy) -> tuple[UnitRef | None, list[Problem]]:
    """The unit the row names, as it was on the dossier's date."""
    try:
        return hierarchy.resolve(row.unit, on=row.submitted_on), []
    except (UnitNotFound, AmbiguousUnit) as exc:
        return None, [("unit", str(exc))]


def _form_problem(
    row: NominationRow,
    form: AwardForm | None,
    rule_set: RuleSet | None,
    campaign: Campaign | None,
    cat: Catalogue,
) -> Problem | None:
    """The first rule of the award form the row breaks: the form exists, a rule set applies on the row's
    date and still has the form, the nominee is of a kind it is for, the movement is long enough, and
    the review type is one the form allows."""
    if form is None:
        known = ", ".join(f"{f.name} ({f.code})" for f in cat.forms.values())
        return "award", f"hình thức «{row.award}» không có trong danh mục: {known}"
    if rule_set is None:
        return "submitted_on", f"không có quy định khen thưởng áp dụng cho ngày {fmt_date(row.submitted_on)}"
    if form.code not in rule_set.rules:
        last = cat.last_day_of(form.code)
        since = f" sau {fmt_date(last)}" if last else ""
        return "award", f"«{form.name}» không còn áp dụng{since} theo {rule_set.legal_basis}"
    if row.kind not in form.kinds:
        allowed = ", ".join(k.label for k in NomineeKind if k in form.kinds)
        return "kind", f"«{form.name}» chỉ dành cho {allowed}; «{row.nominee}» là {row.kind.label}"
    if form.min_movement_years and campaign and campaign.years < form.min_movement_years:
        return (
            "award",
            f"«{form.name}» chỉ xét khi sơ kết, tổng kết phong trào thi đua có thời gian thực hiện từ "
            f"{form.min_movement_years} năm trở lên; phong trào «{campaign.name}» có {campaign.years} năm "
            f"({form.min_movement_years_basis})",
        )
    if form.review_types and row.review_type not in form.review_types:
        return "review_type", _wrong_review(form, row.review_type)
    return None


def _final_review_problem(row: NominationRow, campaign: Campaign | None) -> Problem | None:
    """A consistency check, not a rule of the law: the final review of a movement comes in its last year
    (the 2021–2025 movement: from 2025), so a dossier dated earlier cannot be one of it."""
    if campaign is None or row.review_type != ReviewType.final:
        return None
    if row.submitted_on >= campaign.ends_on.replace(month=1, day=1):
        return None
    return (
        "review_type",
        f"tổng kết phong trào «{campaign.name}» ({campaign.starts_on.year}–{campaign.ends_on.year}) "
        f"diễn ra từ năm {campaign.ends_on.year}; hồ sơ ngày {fmt_date(row.submitted_on)} "
        "không thể là hồ sơ tổng kết",
    )


def _chain_of(unit: UnitRef, form: AwardForm, hierarchy: Hierarchy) -> tuple[list[UnitRef], Problem | None]:
    """The councils the dossier climbs, from its unit to the level whose head confers the form."""
    if unit.level.rank > form.authority.rank:
        return [], (
            "award",
            f"«{form.name}» do {form.authority.label} quyết định, không đề nghị từ {unit.name}",
        )
    try:
        return hierarchy.chain(unit.id, form.authority), None
    except NoRoute as exc:
        return [], ("award", f"«{form.name}»: {exc}")


def _screen_nominees(*, session: Session, candidates: list[Screened], out: Screening) -> None:
    """ "One achievement, one award": no second dossier for a nominee pending or awarded in the campaign;
    frozen nominees are held. Names compare without case or diacritics."""
    seen: dict[tuple, int] = {}
    existing = _existing_nominees(session, {c.name_key for c in candidates})
    blocking = _blocking_nominations(session, [n.id for n in existing.values() if n.id is not None])
    for cand in candidates:
        identity = (cand.unit.id, cand.data.kind, cand.name_key)
        nominee = existing.get(identity)
        if identity in seen:
            out.errors.append(
                RowError(
                    cand.row,
                    "nominee",
                    f"«{cand.data.nominee}» trùng với dòng {seen[identity]} "
                    "trong cùng tệp (mỗi thành tích chỉ đề nghị một hình thức)",
                )
            )
            continue
        seen[identity] = cand.row
        if nominee is not None and nominee.frozen:
            out.errors.append(
                RowError(
                    cand.row,
                    "nominee",
                    f"«{nominee.name}» đang tạm dừng xét khen thưởng "
                    f"({nominee.frozen_reason or 'đang bị kỷ luật, điều tra hoặc khiếu nại'})",
                )
            )
            continue
        clash = blocking.get((nominee.id, cand.campaign.id)) if nominee is not None else None
        if nominee is not None and clash is not None:
            code, status = clash
            out.errors.append(
                RowError(
                    cand.row,
                    "nominee",
                    f"«{nominee.name}» đã có hồ sơ {code} ({Status(status).label}) trong phong trào này",
                )
            )
            continue
        out.accepted.append(cand)


def _chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _existing_nominees(session: Session, name_keys: set[str]) -> dict[tuple, Nominee]:
    found: dict[tuple, Nominee] = {}
    for chunk in _chunks(sorted(name_keys)):
        for nominee in session.scalars(select(Nominee).where(col(Nominee.name_key).in_(chunk))):
            found[(nominee.unit_id, NomineeKind(nominee.kind), nominee.name_key)] = nominee
    return found


def _blocking_nominations(session: Session, nominee_ids: list[int]) -> dict[tuple, tuple[str, str]]:
    found: dict[tuple, tuple[str, str]] = {}
    for chunk in _chunks(nominee_ids):
        stmt = select(
            col(Nomination.nominee_id),
            col(Nomination.campaign_id),
            col(Nomination.code),
            col(Nomination.status),
        ).where(
            col(Nomination.nominee_id).in_(chunk), col(Nomination.status).in_([s.value for s in BLOCKS_NEW])
        )
        for nominee_id, campaign_id, code, status in session.execute(stmt):
            found[(nominee_id, campaign_id)] = (code, status)
    return found


def read_nomination_file(path: Path, *, limits: Limits | None = None) -> list[tuple[int, dict]]:
    """The rows of a nomination file (CSV, XLSX, JSON) with this intake's columns, headers and synonyms;
    files from before the optional columns read as they did (FileRefused otherwise)."""
    return read_rows(
        path,
        columns=FILE_COLUMNS,
        labels=HEADERS_VI,
        required=REQUIRED_COLUMNS,
        synonyms=HEADER_SYNONYMS,
        limits=limits,
    )


ROWS_KIND = "intake-rows"  # a batch too large for a flow-run parameter, staged (models/staging.py)


def staged_rows(*, session: Session, key: str) -> list[dict]:
    """The rows of a batch staged in the app database under `key` (each with its file row as "row")."""
    try:
        return staging.staged(session=session, key=key, kind=ROWS_KIND)
    except LookupError:
        raise LookupError(f"không tìm thấy các dòng hồ sơ đã lưu «{key}»") from None


def batch_key(rows: list[tuple[int, dict]]) -> str:
    """The same rows give the same key: a re-run of a stored batch is recognised."""
    canonical = json.dumps([raw for _, raw in rows], sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


def allocate_codes(*, session: Session, year: int, count: int) -> list[str]:
    """Reserve `count` consecutive codes HS<year>-NNNNNN: one UPDATE takes the block (the row made first if missing)."""
    # The year's first batches may come at once (two workers): the counter is made race-free, then a block taken.
    last = take_numbers(session=session, name=f"nomination:{year}", count=count)
    return [f"HS{year}-{n:06d}" for n in range(last - count + 1, last + 1)]


class NomineeDetails(TypedDict):
    """What a dossier says of its nominee beyond the name, and the warnings it raised: another unit's
    dossier for someone of the same name in the campaign (models/namesakes.py)."""

    review_type: str | None
    birth_year: int | None
    position: str
    workplace: str
    warnings: list[str]
    namesakes: list[dict[str, str]]


class TakenIn(NomineeDetails):
    """One dossier of a batch as the intake reports it: a new one with its unit and route, one of a
    batch received before with its unit's id."""

    code: str
    nominee: str
    kind: str
    unit: NotRequired[str]
    unit_code: NotRequired[str]
    unit_id: NotRequired[int]
    award: str
    status: str
    due_on: str | None
    chain: NotRequired[list[dict[str, Any]]]


class IntakeResult(BaseModel):
    """A batch taken in (tiếp nhận): its key, whether it had been received before, its dossiers and
    the letters queued to the councils that will review them."""

    batch_key: str
    replayed: bool
    nominations: list[TakenIn]
    letters: int = 0


class IntakeRefused(BaseModel):
    """A batch refused whole (bị từ chối): every error by row and column; nothing was stored."""

    refused: Literal[True] = True
    errors: list[RowError]


def store(
    *,
    session: Session,
    accepted: list[Screened],
    key: str,
    source: str = "",
    actor: str = "",
    received_on: date | None = None,
) -> IntakeResult:
    """Store a screened batch in one go; a batch already stored under `key` is returned, not stored again."""
    received_on = received_on or today_vn()
    batch = {
        "key": key,
        "source": source[:SOURCE_MAX],
        "actor": actor[:ACTOR_MAX],
        "received_on": received_on,
    }
    batch_id = _claim(session, batch | {"rows": len(accepted)})
    if batch_id is None:
        prior = session.scalars(select(IntakeBatch).where(col(IntakeBatch.key) == key)).one()
        return _replayed(session=session, key=key, batch=prior)

    nominee_ids = _upsert_nominees(session, accepted)
    codes = allocate_codes(session=session, year=received_on.year, count=len(accepted))
    now = utcnow()
    rows = [
        _nomination_row(
            c, code, nominee_ids[(c.unit.id, c.data.kind, c.name_key)], batch_id, received_on, now
        )
        for c, code in zip(accepted, codes, strict=True)
    ]
    ids = _insert_returning_ids(session, Nomination, rows, ("code",)) if rows else []
    if rows:
        step = {
            "actor": actor[:ACTOR_MAX],
            "note": source[:NOTE_MAX],
            "on_date": received_on,
            "created_at": now,
        }
        steps = [_submit_step(nid, r["origin_unit_id"]) | step for nid, r in zip(ids, rows, strict=True)]
        session.connection().execute(_table(NominationStep).insert(), steps)
    _to_successors(
        session,
        [(nid, c.row) for nid, c in zip(ids, accepted, strict=True) if not c.unit.valid_on(received_on)],
        received_on=received_on,
        actor=actor,
    )
    same_name = namesakes(session=session, nomination_ids=ids)
    out = [_taken_in(c, r, same_name.get(nid, [])) for nid, r, c in zip(ids, rows, accepted, strict=True)]
    return IntakeResult(batch_key=key, replayed=False, nominations=out)


def _claim(session: Session, batch: dict) -> int | None:
    """Claim the batch's key, race-free: the same file sent twice at once (two clicks, two workers) is
    stored once, and the later one waits for the first, then answers "already received" (None)."""
    return session.execute(
        insert_for(session)(IntakeBatch)
        .values(**batch, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(IntakeBatch.id)
    ).scalar_one_or_none()


def _nomination_row(
    cand: Screened, code: str, nominee_id: int, batch_id: int, received_on: date, now: datetime
) -> dict:
    """The row of one accepted dossier: submitted at its own unit, due after its council's review days."""
    days = cand.rule_set.review_days[cand.unit.level]
    data = cand.data
    return {
        "code": code,
        "campaign_id": cand.campaign.id,
        "nominee_id": nominee_id,
        "batch_id": batch_id,
        "award_code": cand.form.code,
        "rule_set": cand.rule_set.code,
        "achievement": data.achievement,
        "submitted_on": data.submitted_on,
        "review_type": data.review_type,
        "nominee_birth_year": data.birth_year,
        "nominee_position": data.position,
        "nominee_workplace": data.workplace,
        "origin_unit_id": cand.unit.id,
        "current_unit_id": cand.unit.id,
        "status": Status.submitted,
        "received_on": received_on,
        "due_on": add_working_days(received_on, days),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _submit_step(nomination_id: int, unit_id: int) -> dict:
    """The dossier's first step: submitted at its own unit (who, when and from which file: the batch's)."""
    return {
        "nomination_id": nomination_id,
        "action": Action.submit,
        "from_status": None,
        "to_status": Status.submitted,
        "unit_id": unit_id,
        "to_unit_id": unit_id,
        "idempotency_key": None,
    }


def _taken_in(cand: Screened, row: dict, found: list[Namesake]) -> TakenIn:
    """What the sender is told of one stored dossier: its code, chain and due date, and same-name dossiers."""
    data = cand.data
    return {
        "code": row["code"],
        "nominee": data.nominee,
        "kind": data.kind.value,
        "unit": cand.unit.name,
        "unit_code": cand.unit.code,
        "award": cand.form.code,
        "status": Status.submitted.value,
        "due_on": row["due_on"].isoformat(),
        "chain": [u.public() for u in cand.chain],
        **_details(
            review_type=data.review_type,
            birth_year=data.birth_year,
            position=data.position,
            workplace=data.workplace,
            found=found,
        ),
    }


def _to_successors(session: Session, stored: list[tuple[int, int]], *, received_on: date, actor: str) -> None:
    """A dossier dated before its unit ended but received after (a June 2025 dossier of a commune
    abolished on 1/7/2025) goes at once to the successor, as the changeover moves pending dossiers:
    one `transfer` step naming the successor, the form mapped where the law moved the power.

    `stored` holds (dossier id, file row). A dossier with nowhere to go refuses the batch (BatchRefused,
    row by row): the caller's transaction is rolled back, so nothing of it is stored."""
    if not stored:
        return
    from models.changeover import Handover, move_to_successor, spec_in_force
    from models.hierarchy import Hierarchy

    hierarchy = Hierarchy.load(session)
    spec = spec_in_force(received_on)
    run = Handover(on=received_on, spec=spec, actor=actor or "tiếp nhận hồ sơ", key="intake-successor")
    nowhere: list[RowError] = []
    for nid, row in stored:
        n = session.get(Nomination, nid)
        assert n is not None
        why = move_to_successor(session=session, hierarchy=hierarchy, nomination=n, run=run)
        if isinstance(why, str):
            nowhere.append(RowError(row, "unit", why))
    if nowhere:
        raise BatchRefused(nowhere)


def _details(
    *,
    review_type: ReviewType | str | None,
    birth_year: int | None,
    position: str,
    workplace: str,
    found: list[Namesake],
) -> NomineeDetails:
    """The review type, the nominee's details and the namesake warnings of one dossier, as reported."""
    return {
        "review_type": ReviewType(review_type).value if review_type else None,
        "birth_year": birth_year,
        "position": position,
        "workplace": workplace,
        "warnings": [n.warning() for n in found],
        "namesakes": [n.public() for n in found],
    }


def _table(model: type) -> Table:
    """The Core table of a table model (bulk inserts go through Core)."""
    table: object = sa_inspect(model).local_table
    assert isinstance(table, Table)
    return table


def _insert_returning_ids(session: Session, model: type, rows: list[dict], key: tuple[str, ...]) -> list[int]:
    """Core bulk insert in batches, returning the new ids in the rows' order.

    The ids come back with the rows' unique key and are matched on it: asking the database for
    parameter order instead makes SQLite insert one row at a time."""
    table = _table(model)
    stmt = table.insert().returning(table.c.id, *(table.c[k] for k in key))
    by_key = {tuple(r[1:]): r[0] for r in session.connection().execute(stmt, rows)}
    return [by_key[tuple(row[k] for k in key)] for row in rows]


def _upsert_nominees(session: Session, accepted: list[Screened]) -> dict[tuple, int]:
    ids = {
        k: n.id
        for k, n in _existing_nominees(session, {c.name_key for c in accepted}).items()
        if n.id is not None
    }
    missing: dict[tuple, dict] = {}
    now = utcnow()
    for c in accepted:
        identity = (c.unit.id, c.data.kind, c.name_key)
        if identity not in ids and identity not in missing:
            missing[identity] = {
                "name": c.data.nominee,
                "name_key": c.name_key,
                "kind": c.data.kind,
                "unit_id": c.unit.id,
                "frozen": False,
                "created_at": now,
            }
    if missing:
        new_ids = _insert_returning_ids(
            session, Nominee, list(missing.values()), ("unit_id", "kind", "name_key")
        )
        ids.update(zip(missing.keys(), new_ids, strict=True))
    return ids


def _replayed(*, session: Session, key: str, batch: IntakeBatch) -> IntakeResult:
    """A batch received before, as it was stored."""
    assert batch.id is not None
    return IntakeResult(
        batch_key=key, replayed=True, nominations=batch_nominations(session=session, batch_id=batch.id)
    )


def batch_nominations(*, session: Session, batch_id: int) -> list[TakenIn]:
    stmt = (
        select(
            col(Nomination.id),
            col(Nomination.code),
            col(Nominee.name),
            col(Nominee.kind),
            col(Nomination.origin_unit_id),
            col(Nomination.award_code),
            col(Nomination.status),
            col(Nomination.due_on),
            col(Nomination.review_type),
            col(Nomination.nominee_birth_year),
            col(Nomination.nominee_position),
            col(Nomination.nominee_workplace),
        )
        .join(Nominee, col(Nominee.id) == col(Nomination.nominee_id))
        .where(col(Nomination.batch_id) == batch_id)
        .order_by(col(Nomination.id))
    )
    rows = session.execute(stmt).all()
    same_name = namesakes(session=session, nomination_ids=[r[0] for r in rows])
    return [
        {
            "code": code,
            "nominee": name,
            "kind": kind,
            "unit_id": unit_id,
            "award": award,
            "status": status,
            "due_on": due.isoformat() if due else None,
            **_details(
                review_type=review,
                birth_year=born,
                position=position,
                workplace=workplace,
                found=same_name.get(nid, []),
            ),
        }
        for nid, code, name, kind, unit_id, award, status, due, review, born, position, workplace in rows
    ]


def take_in(
    *,
    session: Session,
    rows: list[tuple[int, dict]],
    source: str = "",
    actor: str = "",
    received_on: date | None = None,
    hierarchy: Hierarchy | None = None,
    key: str | None = None,
    max_rows: int | None = None,
) -> IntakeResult:
    """Parse, screen and store a batch; raise BatchRefused listing every error, storing nothing.

    At most `max_rows` rows (default: settings' `file_max_rows`)."""
    limit = max_rows if max_rows is not None else get_settings().file_max_rows
    if len(rows) > limit:  # before anything is parsed: the cost of a batch is bounded
        raise BatchRefused([RowError(0, None, too_many_rows(limit))])
    key = key or batch_key(rows)
    prior = session.scalars(select(IntakeBatch).where(col(IntakeBatch.key) == key)).first()
    if prior is not None:
        return _replayed(session=session, key=key, batch=prior)
    parsed, errors = parse_rows(rows)
    if not rows:
        errors.append(RowError(0, None, "tệp không có dòng dữ liệu nào"))
    latest = latest_date()
    if received_on is not None and received_on > latest:
        errors.append(
            RowError(
                0, None, f"ngày tiếp nhận {fmt_date(received_on)} chưa đến (muộn nhất {fmt_date(latest)})"
            )
        )
    hierarchy = hierarchy or Hierarchy.load(session)
    screening = screen(session=session, rows=parsed, hierarchy=hierarchy, today=received_on)
    errors.extend(screening.errors)
    if errors:
        raise BatchRefused(sorted(errors, key=lambda e: (e.row, e.column or "")))
    accepted = screening.accepted
    return store(
        session=session, accepted=accepted, key=key, source=source, actor=actor, received_on=received_on
    )


# --- the template officials fill in (`thidua nominate --template`, the portal's «Tải tệp mẫu») ----------

# The guide's example unit: one that exists today (xã Cẩm Thành ended on 30/6/2025; its successor is it).
EXAMPLE_UNIT = ("xã Cẩm Thạch", "thanh-hoa.cam-thach-2025")
TEMPLATE_TITLE = "Hồ sơ đề nghị khen thưởng"


def template_notes() -> tuple[str, ...]:
    """The «Hướng dẫn» sheet: one line per column of the template (FILE_COLUMNS, in their order)."""
    forms = catalogue().forms.values()
    return (
        "Mỗi dòng một hồ sơ. Các cột:",
        "Tên đối tượng (nominee): họ tên cá nhân hoặc tên tập thể (kể cả doanh nghiệp, hợp tác xã), hộ gia đình.",
        "Loại đối tượng (kind): cá nhân, tập thể hoặc hộ gia đình (ghi «doanh nghiệp» được hiểu là tập thể).",
        f"Đơn vị đề nghị (unit): tên hoặc mã đơn vị, ví dụ «{EXAMPLE_UNIT[0]}» hoặc «{EXAMPLE_UNIT[1]}».",
        "Hình thức khen thưởng (award): tên hình thức (không phân biệt chữ hoa, có dấu hay không dấu) hoặc "
        "mã của nó: " + "; ".join(f"{f.name} ({f.code})" for f in forms) + ".",
        "Phong trào (campaign): mặc định ntm-2021-2025.",
        "Tóm tắt thành tích (achievement): thành tích đề nghị khen thưởng, ngắn gọn.",
        "Ngày hồ sơ (submitted_on): dd/mm/yyyy — quyết định quy định áp dụng và chuỗi đơn vị xét.",
        "Đợt xét khen thưởng (review_type): thường xuyên, chuyên đề, sơ kết hoặc tổng kết. Bắt buộc với "
        "Huân chương Lao động hạng Ba: chỉ xét khi tổng kết phong trào có thời gian từ 5 năm trở lên "
        "(Luật Thi đua, Khen thưởng 2022, Điều 44 khoản 2); các hình thức khác có thể để trống.",
        "Năm sinh (birth_year): chỉ ghi cho cá nhân, 4 chữ số, ví dụ 1970.",
        "Chức vụ (position) và Nơi công tác (workplace): như trong danh sách đề nghị, ví dụ «Trưởng thôn», "
        f"«thôn Tiến Thành, {EXAMPLE_UNIT[0]}»; giúp Hội đồng phân biệt những người trùng tên.",
        "Các cột Đợt xét khen thưởng, Năm sinh, Chức vụ, Nơi công tác có thể để trống hoặc bỏ đi (tệp theo "
        "mẫu cũ vẫn được tiếp nhận), trừ Đợt xét khen thưởng ở những hồ sơ cần (xem trên).",
    )


def write_nomination_template(path: Path, *, overwrite: bool = False) -> Path:
    """The empty nomination template: every column the intake reads (the optional ones too, as its guide
    describes them) and the «Hướng dẫn» sheet. Never over an existing file unless `overwrite`."""
    from models.sheets import write_template

    return write_template(
        path,
        columns=FILE_COLUMNS,
        labels=HEADERS_VI,
        title=TEMPLATE_TITLE,
        notes=template_notes(),
        overwrite=overwrite,
    )
