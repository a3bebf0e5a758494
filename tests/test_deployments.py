"""prefect.yaml is the one list of deployments: `thidua up` (serve) reads it through flows/deployments.py,
`prefect deploy --all` (workers) reads it directly; both must see the same deployments."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.deployments import DEPLOYMENTS, WORK_POOL, DeploymentSpec, read_prefect_yaml
from flows.events import COUNCIL_DECIDED
from models.settings import TIMEZONE

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"


@pytest.fixture(scope="module")
def prefect_yaml() -> dict[str, Any]:
    """The file as Prefect's own `prefect deploy` model accepts it (anchors resolved by YAML)."""
    from prefect.cli.deploy._models import PrefectYamlModel

    raw = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    PrefectYamlModel.model_validate(raw)  # raises if `prefect deploy` would refuse the file
    return raw


def _declared(prefect_yaml: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in prefect_yaml["deployments"] if d["name"] == name)


def test_same_deployments_in_the_same_order(prefect_yaml: dict[str, Any]) -> None:
    assert [d["name"] for d in prefect_yaml["deployments"]] == [s.name for s in DEPLOYMENTS]


def test_yaml_uses_anchors_for_pool_and_schedules() -> None:
    text = PREFECT_YAML.read_text(encoding="utf-8")
    assert "definitions:" in text
    assert text.count("*process_pool") == len(DEPLOYMENTS)
    assert text.count("&process_pool") == 1


@pytest.mark.parametrize("spec", DEPLOYMENTS, ids=lambda s: s.name)
def test_yaml_matches_module(prefect_yaml: dict[str, Any], spec: DeploymentSpec) -> None:
    from prefect.events import DeploymentEventTrigger

    declared = _declared(prefect_yaml, spec.name)
    assert declared["entrypoint"] == spec.entrypoint
    assert declared["description"] == spec.description
    assert tuple(declared["tags"]) == spec.tags
    assert declared["parameters"] == dict(spec.parameters)
    assert declared["enforce_parameter_schema"] is True
    assert declared.get("concurrency_limit") == spec.concurrency_limit
    assert declared["work_pool"]["name"] == WORK_POOL
    assert [(s["cron"], s["timezone"]) for s in declared["schedules"]] == (
        [(spec.cron, TIMEZONE)] if spec.cron else []
    )
    assert [DeploymentEventTrigger.model_validate(t) for t in declared.get("triggers", [])] == spec.triggers()


@pytest.mark.parametrize("spec", [s for s in DEPLOYMENTS if s.trigger], ids=lambda s: s.name)
def test_trigger_passes_only_parameters_the_flow_takes(spec: DeploymentSpec) -> None:
    flow = spec.load()
    assert set(spec.trigger.parameters) <= set(inspect.signature(flow.fn).parameters)


@pytest.mark.parametrize("spec", [s for s in DEPLOYMENTS if s.cron or s.trigger], ids=lambda s: s.name)
def test_scheduled_or_triggered_flow_gets_every_required_parameter(spec: DeploymentSpec) -> None:
    """Nobody fills a form for these runs: what the flow requires must come from the declaration."""
    flow = spec.load()
    given = set(spec.parameters) | set(spec.trigger.parameters if spec.trigger else ())
    required = {
        name
        for name, p in inspect.signature(flow.fn).parameters.items()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    assert required <= given


def test_entrypoint_names_the_module_file() -> None:
    for spec in DEPLOYMENTS:
        path, function = spec.entrypoint.split(":")
        assert spec.module == path.removesuffix(".py").replace("/", ".")
        assert spec.function == function


@pytest.mark.parametrize(
    "entrypoint", ["flows/no_such_module.py:nothing", "flows/deployments.py:no_such_flow"]
)
def test_an_entrypoint_that_names_no_flow_is_an_error(entrypoint: str) -> None:
    spec = DeploymentSpec(name="missing", entrypoint=entrypoint, description="")
    with pytest.raises((ModuleNotFoundError, AttributeError)):
        spec.load()


def test_receive_forwarded_starts_on_the_event_a_meeting_emits() -> None:
    trigger = next(s for s in DEPLOYMENTS if s.name == "receive-forwarded").trigger
    assert trigger is not None and trigger.event == COUNCIL_DECIDED


@pytest.mark.parametrize(
    "change",
    [
        {"schedules": [{"cron": "0 8 * * *", "timezone": "UTC"}]},
        {
            "schedules": [
                {"cron": "0 8 * * *", "timezone": TIMEZONE},
                {"cron": "0 9 * * *", "timezone": TIMEZONE},
            ]
        },
        {"schedules": [{"interval": 3600}]},
        {"enforce_parameter_schema": False},
        {"triggers": [{"type": "event", "name": "two", "expect": ["a", "b"]}]},
    ],
    ids=["timezone", "two-schedules", "interval", "no-schema", "two-events"],
)
def test_a_declaration_serve_cannot_honour_is_refused(tmp_path: Path, change: dict[str, Any]) -> None:
    """`thidua up` must serve what `prefect deploy` would deploy, or refuse to start: never drop a part."""
    raw = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    raw["deployments"][0].update(change)
    path = tmp_path / "prefect.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="prefect.yaml"):
        read_prefect_yaml(path)


def test_templated_trigger_parameters_survive_prefect_validation() -> None:
    """Prefect's RunDeployment action validates the Jinja parameters when the automation is created."""
    from prefect.server.events.actions import RunDeployment

    for spec in DEPLOYMENTS:
        if spec.trigger:
            RunDeployment(
                source="selected",
                deployment_id="00000000-0000-0000-0000-000000000000",
                parameters=dict(spec.trigger.parameters),
            )


def test_each_entrypoint_loads_the_way_a_flow_run_process_loads_it() -> None:
    """A flow run's process loads its entrypoint as a script, flows/ first on sys.path: a module there named like a
    top-level package (flows/documents.py) would stand in for it and crash every run. A fresh interpreter, as
    the run's, where nothing is imported yet; no placeholder flow (Prefect's fallback hides the error)."""
    import subprocess
    import sys

    load = "import sys\nfrom prefect.flows import load_flow_from_entrypoint\nfor e in sys.argv[1:]: load_flow_from_entrypoint(e, use_placeholder_flow=False)"
    done = subprocess.run(
        [sys.executable, "-c", load, *(s.entrypoint for s in DEPLOYMENTS)],
        cwd=PREFECT_YAML.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
