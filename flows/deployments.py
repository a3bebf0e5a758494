"""Every thidua deployment, declared once as data.

`thidua up` serves them from one process (`supervisor/serve.py`); `prefect.yaml` declares the same ones for
`prefect deploy --all` to a process work pool, and `tests/test_up.py` checks that the two agree.
A flow module that is not written yet is skipped with a warning, so `thidua up` works as each lands.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from models.settings import TIMEZONE

if TYPE_CHECKING:  # prefect costs ~1.6 s to import; `thidua` commands that never serve skip it
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment
    from prefect.events import DeploymentEventTrigger, DeploymentTriggerTypes
    from prefect.schedules import Schedule

logger = logging.getLogger(__name__)

WORK_POOL = "thidua-process"
COUNCIL_DECIDED = "thidua.council.decided"


@dataclass(frozen=True)
class EventTrigger:
    """Start the deployment when `event` is emitted; `parameters` are Jinja templates over the event."""

    name: str
    event: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def build(self) -> DeploymentEventTrigger:
        from prefect.events import DeploymentEventTrigger

        return DeploymentEventTrigger(
            name=self.name,
            description=self.description,
            expect={self.event},
            parameters=dict(self.parameters),
        )


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment: which flow, when it starts, how many runs at once."""

    name: str
    entrypoint: str  # "flows/<module>.py:<flow function>", as in prefect.yaml
    description: str
    tags: tuple[str, ...] = ()
    cron: str | None = None
    trigger: EventTrigger | None = None
    concurrency_limit: int | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def module(self) -> str:
        return self.entrypoint.split(":")[0].removesuffix(".py").replace("/", ".")

    @property
    def function(self) -> str:
        return self.entrypoint.split(":")[1]

    def schedules(self) -> list[Schedule]:
        from prefect.schedules import Cron

        return [Cron(self.cron, timezone=TIMEZONE)] if self.cron else []

    def triggers(self) -> list[DeploymentTriggerTypes]:
        return [self.trigger.build()] if self.trigger else []


DEPLOYMENTS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec(
        name="intake",
        entrypoint="flows/intake.py:intake",
        description="Tiếp nhận một lô hồ sơ đề nghị khen thưởng: kiểm tra, lưu, báo Hội đồng nơi nhận.",
        tags=("thidua", "intake"),
    ),
    DeploymentSpec(
        name="council-meeting",
        entrypoint="flows/council.py:council_meeting",
        description="Một phiên họp Hội đồng Thi đua – Khen thưởng: lập chương trình, chờ quyết định "
                    "của Hội đồng, áp dụng cả lô (khen / trình lên / không khen / trả lại).",
        tags=("thidua", "council"),
    ),
    DeploymentSpec(
        name="receive-forwarded",
        entrypoint="flows/council.py:receive_forwarded",
        description="Cấp trên nhận các hồ sơ vừa được trình lên sau một phiên họp: hạn xét, "
                    "kiểm tra theo cấp, báo mỗi Hội đồng nhận một lần.",
        tags=("thidua", "council"),
        trigger=EventTrigger(
            name="receive-forwarded on thidua.council.decided",
            event=COUNCIL_DECIDED,
            # A single-expression template keeps the payload's type (int stays int) in Prefect 3.8.
            parameters={"meeting_id": "{{ event.payload.meeting_id }}"},
            description="Sau mỗi phiên họp Hội đồng đã quyết định, mở việc xét ở cấp trên.",
        ),
    ),
    DeploymentSpec(
        name="deliver-mail",
        entrypoint="flows/delivery.py:deliver_mail",
        description="Gửi thư đang chờ trong hộp thư đi qua SMTP, mỗi thư đúng một lần.",
        tags=("thidua", "mail"),
        cron="*/5 * * * *",
        concurrency_limit=1,
    ),
    DeploymentSpec(
        name="deadline-reminders",
        entrypoint="flows/deadlines.py:deadline_reminders",
        description="Nhắc hạn hằng ngày lúc 08:00: báo cáo năm (30/11), hạn xét hồ sơ; "
                    "nhắc lại khi quá hạn, chỉ gửi cho nơi chưa làm.",
        tags=("thidua", "deadlines"),
        cron="0 8 * * *",
        concurrency_limit=1,
    ),
    DeploymentSpec(
        name="dashboard",
        entrypoint="flows/dashboard.py:dashboard",
        description="Bảng theo dõi hằng giờ: hồ sơ theo cấp và tỉnh, hồ sơ quá hạn xét, "
                    "đơn vị đã nộp báo cáo năm.",
        tags=("thidua", "dashboard"),
        cron="0 * * * *",
        concurrency_limit=1,
    ),
)


def load_flow(spec: DeploymentSpec) -> Flow | None:
    """The spec's flow object, or None (with a warning) while its module or function is not written yet."""
    try:
        module = importlib.import_module(spec.module)
    except ModuleNotFoundError as exc:
        if exc.name != spec.module:  # the module exists but something it imports is missing: a real error
            raise
        logger.warning("Skipping deployment %r: module %s does not exist yet", spec.name, spec.module)
        return None
    flow = getattr(module, spec.function, None)
    if flow is None:
        logger.warning("Skipping deployment %r: %s has no flow %r yet", spec.name, spec.module, spec.function)
        return None
    return flow


async def build(spec: DeploymentSpec, flow: Flow) -> RunnerDeployment:
    """The RunnerDeployment for `spec` (schedules in Asia/Ho_Chi_Minh, event triggers, limits)."""
    return await flow.ato_deployment(
        name=spec.name,
        description=spec.description,
        tags=list(spec.tags),
        schedules=spec.schedules(),
        triggers=[*spec.triggers()],
        concurrency_limit=spec.concurrency_limit,
        parameters=dict(spec.parameters),
        enforce_parameter_schema=True,
    )


async def build_deployments(specs: Iterable[DeploymentSpec] = DEPLOYMENTS) -> tuple[list[RunnerDeployment], list[str]]:
    """Deployments for every spec whose flow exists, and the names of those skipped."""
    built: list[RunnerDeployment] = []
    skipped: list[str] = []
    for spec in specs:
        flow = load_flow(spec)
        if flow is None:
            skipped.append(spec.name)
        else:
            built.append(await build(spec, flow))
    return built, skipped
