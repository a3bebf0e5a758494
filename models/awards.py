"""Award forms (hình thức khen thưởng) and the rule sets that govern them, by period.

The rules are data (`data/award_forms.yaml`), each with its legal basis; this module only loads
them and answers questions: which rule set applies on a date, who confers a form, which nominees
may get it, how many working days a level has to decide, and whether a vote passes.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from models import yamlfile
from models.labelled import LabelledEnum
from models.units import Level

DATA = Path(__file__).parent / "data" / "award_forms.yaml"


class Frozen(BaseModel):
    """The law as data: read from a file once, never changed after."""

    model_config = ConfigDict(frozen=True)


class NomineeKind(LabelledEnum):
    """Đối tượng khen thưởng: the Law knows three (Law 06/2022/QH15 Art. 2: "cá nhân, tập thể, hộ gia
    đình"). An enterprise or a cooperative is a collective (tập thể), not a kind of its own."""

    individual = "individual", "cá nhân"
    collective = "collective", "tập thể"
    household = "household", "hộ gia đình"


NOMINEE_KINDS = (NomineeKind.individual, NomineeKind.collective, NomineeKind.household)

# Accepted spellings in files filled in by officials (folded: no case, no diacritics). A row that says
# "doanh nghiệp" (or the old code "enterprise") is a collective: files written before the change still load.
KIND_ALIASES = {
    "ca nhan": NomineeKind.individual,
    "tap the": NomineeKind.collective,
    "ho gia dinh": NomineeKind.household,
    "ho": NomineeKind.household,
    **{k.value: k for k in NOMINEE_KINDS},
    "doanh nghiep": NomineeKind.collective,
    "enterprise": NomineeKind.collective,
}


class ReviewType(LabelledEnum):
    """Đợt xét khen thưởng: when in a movement the dossier is proposed (Law 06/2022/QH15 Art. 16(1): regular
    or thematic emulation; Art. 17(5): mid-term and final reviews of a movement, with their awards)."""

    regular = "thuong-xuyen", "thường xuyên"
    thematic = "chuyen-de", "chuyên đề"
    mid_term = "so-ket", "sơ kết"
    final = "tong-ket", "tổng kết"


# Accepted spellings in files (folded): the label with or without a leading word, and the code.
REVIEW_TYPE_ALIASES = {
    **{k.value: k for k in ReviewType},
    **{k.value.replace("-", " "): k for k in ReviewType},
    "thuong xuyen": ReviewType.regular,
    "thi dua thuong xuyen": ReviewType.regular,
    "chuyen de": ReviewType.thematic,
    "theo chuyen de": ReviewType.thematic,
    "thi dua theo chuyen de": ReviewType.thematic,
    "so ket": ReviewType.mid_term,
    "so ket phong trao": ReviewType.mid_term,
    "tong ket": ReviewType.final,
    "tong ket phong trao": ReviewType.final,
    **{k.name.replace("_", "-"): k for k in ReviewType},
}


class AwardForm(Frozen):
    """One award form of the catalogue."""

    code: str
    name: str
    short: str
    rank: int
    authority: Level
    kinds: frozenset[NomineeKind]
    min_movement_years: int | None = None
    min_movement_years_basis: str | None = None
    # the reviews of a movement at which the form may be proposed (None: any); the basis beside it
    review_types: frozenset[ReviewType] | None = None
    review_types_basis: str | None = None

    @field_validator("kinds", mode="before")
    @classmethod
    def _kinds_of_the_law(cls, value: Any) -> Any:
        known = {k.value for k in NOMINEE_KINDS}
        wrong = sorted(str(getattr(k, "value", k)) for k in value if str(getattr(k, "value", k)) not in known)
        if wrong:
            raise ValueError(
                f"{', '.join(wrong)}: không phải đối tượng khen thưởng (Luật Thi đua, khen thưởng 2022 Điều 2: "
                "cá nhân, tập thể, hộ gia đình; doanh nghiệp là tập thể)"
            )
        return value


class VoteRule(Frozen):
    """The share of "for" votes a decision needs."""

    ratio: float
    of: Literal["members", "present"]
    strictly_more: bool = False

    def passes(self, *, votes_for: int, present: int, members: int, written_for: int = 0) -> bool:
        """Of all members, the written votes of absent members count with those cast at the meeting
        (Decree 98/2023 Art. 30(7): "nếu thành viên Hội đồng vắng mặt thì lấy ý kiến bằng văn bản");
        of those present, only the votes cast at the meeting count."""
        if self.of == "members":
            count, base = votes_for + written_for, members
        else:
            count, base = votes_for, present
        needed = self.ratio * base
        return count > needed if self.strictly_more else count >= needed

    def describe(self) -> str:
        pct = f"{self.ratio * 100:g}%"
        whom = "tổng số thành viên Hội đồng" if self.of == "members" else "số thành viên dự họp"
        return f"{'trên' if self.strictly_more else 'ít nhất'} {pct} {whom} đồng ý"


class QuorumRule(Frozen):
    """How many members must sit for a meeting's conclusions to stand (numerator/denominator of all)."""

    numerator: int
    denominator: int
    basis: str

    def met(self, *, present: int, members: int) -> bool:
        return present * self.denominator >= members * self.numerator

    def needed(self, members: int) -> int:
        return -(-members * self.numerator // self.denominator)

    def describe(self) -> str:
        return f"ít nhất {self.numerator}/{self.denominator} tổng số thành viên Hội đồng dự họp"


class FormRule(Frozen):
    """How a rule set treats one form."""

    form: AwardForm
    vote: VoteRule
    vote_basis: str


class RuleSet(Frozen):
    code: str
    name: str
    legal_basis: str
    effective_from: date
    effective_to: date | None
    rules: dict[str, FormRule]
    review_days: dict[Level, int]
    decision_days: dict[Level, int]
    return_days: int
    quorum: QuorumRule
    # working days a level has, from receipt, to return an incomplete dossier in writing (the Ministry of
    # Home Affairs: 5); and, after a head's decision, to send its copies to the proposers (10)
    check_days: dict[Level, int] = {}
    copies_days: dict[Level, int] = {}

    def applies_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


class Catalogue(Frozen):
    """All award forms and every rule set."""

    forms: dict[str, AwardForm]
    rule_sets: tuple[RuleSet, ...]

    def form(self, code: str) -> AwardForm | None:
        return self.forms.get(code)

    def rule_set_on(self, day: date) -> RuleSet | None:
        return next((rs for rs in self.rule_sets if rs.applies_on(day)), None)

    def rule_set(self, code: str) -> RuleSet:
        return next(rs for rs in self.rule_sets if rs.code == code)

    def last_day_of(self, form_code: str) -> date | None:
        """The last day any rule set offered this form (None if it still applies)."""
        days = [rs.effective_to for rs in self.rule_sets if form_code in rs.rules]
        return None if any(d is None for d in days) else max(d for d in days if d)


def _vote(raw: dict) -> VoteRule:
    return VoteRule(**raw)


@lru_cache
def catalogue(path: Path = DATA) -> Catalogue:
    """Load the catalogue once per process."""
    raw = yamlfile.safe_load(path.read_text(encoding="utf-8"))
    forms = {code: AwardForm(code=code, **dict(spec.items())) for code, spec in raw["forms"].items()}
    rule_sets = []
    for rs in raw["rule_sets"]:
        default_vote = _vote(rs["vote"])
        rules = {}
        for code in rs["forms"]:
            override = (rs.get("overrides") or {}).get(code, {})
            rules[code] = FormRule(
                form=forms[code],
                vote=_vote(override["vote"]) if "vote" in override else default_vote,
                vote_basis=override.get("basis", rs["legal_basis"]),
            )
        rule_sets.append(
            RuleSet(
                code=rs["code"],
                name=rs["name"],
                legal_basis=rs["legal_basis"],
                effective_from=rs["effective_from"],
                effective_to=rs["effective_to"],
                rules=rules,
                review_days={Level(k): int(v) for k, v in rs["review_days"].items()},
                decision_days={Level(k): int(v) for k, v in rs["decision_days"].items()},
                return_days=int(rs["return_days"]),
                check_days={Level(k): int(v) for k, v in (rs.get("check_days") or {}).items()},
                copies_days={Level(k): int(v) for k, v in (rs.get("copies_days") or {}).items()},
                quorum=QuorumRule(**rs["quorum"]),
            )
        )
    rule_sets.sort(key=lambda r: r.effective_from)
    return Catalogue(forms=forms, rule_sets=tuple(rule_sets))
