"""Every thidua deployment, read from `prefect.yaml`: the one place they are declared.

`prefect deploy --all` pushes that file's deployments to a process work pool; `thidua up` serves the
same ones from one process (`supervisor/serve.py`) through `build_deployments()` below. Only what
serving needs is read (entrypoint, description, tags, parameters, a cron schedule, an event trigger,
a concurrency limit); a declaration this module cannot serve faithfully is refused, never dropped.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models import yamlfile
from models.settings import TIMEZONE

if TYPE_CHECKING:  # prefect costs ~1.6 s to import; `thidua` commands that never serve skip it
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment
    from prefect.events import DeploymentEventTrigger, DeploymentTriggerTypes
    from prefect.schedules import Schedule

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"


@dataclass(frozen=True)
class EventTrigger:
    """Start the deployment when `event` is emitted; `parameters` are Jinja templates over the event.

    `quiet_s` makes it a debounce: one run once `event` has stopped coming for that many seconds (a
    Proactive trigger whose `after` and `expect` are the same event: each event restarts the window).
    A debounce needs `for_each` (a resource label every such event carries, flows/events.py BURST):
    without it Prefect 3.8.8's proactive evaluation opens a window of its own every `quiet_s` seconds,
    event or not, and fires when that window ends empty — a run every minute, forever."""

    name: str
    event: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    quiet_s: int | None = None
    for_each: tuple[str, ...] = ()

    @classmethod
    def from_yaml(cls, raw: Mapping[str, Any]) -> EventTrigger:
        expect = list(raw.get("expect") or [])
        after = list(raw.get("after") or [])
        if raw.get("type") != "event" or len(expect) != 1 or not raw.get("enabled", True):
            raise ValueError(
                f"prefect.yaml: trigger {raw.get('name')!r} must be one enabled event trigger "
                f"expecting one event"
            )
        quiet = raw.get("posture", "Reactive") == "Proactive"
        if quiet and (
            after != expect or raw.get("threshold") != 1 or not raw.get("within") or not raw.get("for_each")
        ):
            raise ValueError(
                f"prefect.yaml: proactive trigger {raw.get('name')!r} must be a debounce: after == expect, "
                "threshold 1, within N seconds, for_each a label its events carry"
            )
        if not quiet and after:
            raise ValueError(f"prefect.yaml: trigger {raw.get('name')!r}: `after` only in a debounce")
        return cls(
            name=raw["name"],
            event=expect[0],
            parameters=dict(raw.get("parameters") or {}),
            description=raw.get("description", ""),
            quiet_s=int(raw["within"]) if quiet else None,
            for_each=tuple(raw.get("for_each") or ()),
        )

    def build(self) -> DeploymentEventTrigger:
        from datetime import timedelta

        from prefect.events import DeploymentEventTrigger

        if self.quiet_s is None:
            return DeploymentEventTrigger(
                name=self.name,
                description=self.description,
                expect={self.event},
                parameters=dict(self.parameters),
            )
        return DeploymentEventTrigger(
            name=self.name,
            description=self.description,
            posture="Proactive",  # type: ignore[arg-type]
            after={self.event},
            expect={self.event},
            threshold=1,
            within=timedelta(seconds=self.quiet_s),
            for_each=set(self.for_each),
            parameters=dict(self.parameters) or None,
        )


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment: which flow, when it starts, how many runs at once."""

    name: str
    entrypoint: str  # "flows/<module>.py:<flow function>", relative to the repository root
    description: str
    tags: tuple[str, ...] = ()
    cron: str | None = None
    trigger: EventTrigger | None = None
    concurrency_limit: int | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_yaml(cls, raw: Mapping[str, Any]) -> DeploymentSpec:
        name = raw["name"]
        schedules = list(raw.get("schedules") or [])
        triggers = list(raw.get("triggers") or [])
        if len(schedules) > 1 or len(triggers) > 1:
            raise ValueError(f"prefect.yaml: {name} may have one schedule and one trigger at most")
        if schedules and (set(schedules[0]) != {"cron", "timezone"} or schedules[0]["timezone"] != TIMEZONE):
            raise ValueError(f"prefect.yaml: {name}'s schedule must be a cron in {TIMEZONE}")
        if raw.get("enforce_parameter_schema") is not True:
            raise ValueError(f"prefect.yaml: {name} must enforce its parameter schema")
        return cls(
            name=name,
            entrypoint=raw["entrypoint"],
            description=raw.get("description", ""),
            tags=tuple(raw.get("tags") or ()),
            cron=schedules[0]["cron"] if schedules else None,
            trigger=EventTrigger.from_yaml(triggers[0]) if triggers else None,
            concurrency_limit=raw.get("concurrency_limit"),
            parameters=dict(raw.get("parameters") or {}),
        )

    @property
    def module(self) -> str:
        return self.entrypoint.split(":")[0].removesuffix(".py").replace("/", ".")

    @property
    def function(self) -> str:
        return self.entrypoint.split(":")[1]

    def load(self) -> Flow:
        """The flow object the entrypoint names."""
        return getattr(importlib.import_module(self.module), self.function)

    def schedules(self) -> list[Schedule]:
        from prefect.schedules import Cron

        return [Cron(self.cron, timezone=TIMEZONE)] if self.cron else []

    def triggers(self) -> list[DeploymentTriggerTypes]:
        return [self.trigger.build()] if self.trigger else []


def read_prefect_yaml(path: Path = PREFECT_YAML) -> tuple[str, tuple[DeploymentSpec, ...]]:
    """The work pool and the deployments `path` declares, in its order."""
    raw = yamlfile.safe_load(path.read_text(encoding="utf-8"))
    pools = {d["work_pool"]["name"] for d in raw["deployments"]}
    if len(pools) != 1:
        raise ValueError(f"prefect.yaml: every deployment goes to one work pool, not {sorted(pools)}")
    return pools.pop(), tuple(DeploymentSpec.from_yaml(d) for d in raw["deployments"])


WORK_POOL, DEPLOYMENTS = read_prefect_yaml()


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


async def build_deployments(specs: Iterable[DeploymentSpec] = DEPLOYMENTS) -> list[RunnerDeployment]:
    """A RunnerDeployment for every spec (an entrypoint that does not import is an error)."""
    return [await build(spec, spec.load()) for spec in specs]
