"""prefect.yaml and flows/deployments.py declare the same deployments, so `thidua up` (serve) and
`prefect deploy --all` (workers) cannot drift apart."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.deployments import DEPLOYMENTS, WORK_POOL, DeploymentSpec, load_flow
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
        [(spec.cron, TIMEZONE)] if spec.cron else [])
    assert [DeploymentEventTrigger.model_validate(t) for t in declared.get("triggers", [])] == spec.triggers()


@pytest.mark.parametrize("spec", [s for s in DEPLOYMENTS if s.trigger], ids=lambda s: s.name)
def test_trigger_passes_only_parameters_the_flow_takes(spec: DeploymentSpec) -> None:
    flow = load_flow(spec)
    if flow is None:
        pytest.skip(f"{spec.entrypoint} is not written yet")
    assert set(spec.trigger.parameters) <= set(inspect.signature(flow.fn).parameters)


@pytest.mark.parametrize("spec", [s for s in DEPLOYMENTS if s.cron or s.trigger], ids=lambda s: s.name)
def test_scheduled_or_triggered_flow_gets_every_required_parameter(spec: DeploymentSpec) -> None:
    """Nobody fills a form for these runs: what the flow requires must come from the declaration."""
    flow = load_flow(spec)
    if flow is None:
        pytest.skip(f"{spec.entrypoint} is not written yet")
    given = set(spec.parameters) | set(spec.trigger.parameters if spec.trigger else ())
    required = {name for name, p in inspect.signature(flow.fn).parameters.items()
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    assert required <= given


def test_entrypoint_names_the_module_file() -> None:
    for spec in DEPLOYMENTS:
        path, function = spec.entrypoint.split(":")
        assert spec.module == path.removesuffix(".py").replace("/", ".")
        assert spec.function == function


@pytest.mark.parametrize("entrypoint", ["flows/not_written_yet.py:nothing", "flows/deployments.py:no_such_flow"])
def test_missing_flow_is_skipped_with_a_warning(entrypoint: str, caplog: pytest.LogCaptureFixture) -> None:
    spec = DeploymentSpec(name="missing", entrypoint=entrypoint, description="")
    with caplog.at_level(logging.WARNING, logger="flows.deployments"):
        assert load_flow(spec) is None
    assert "Skipping deployment 'missing'" in caplog.text


def test_templated_trigger_parameters_survive_prefect_validation() -> None:
    """Prefect's RunDeployment action validates the Jinja parameters when the automation is created."""
    from prefect.server.events.actions import RunDeployment

    for spec in DEPLOYMENTS:
        if spec.trigger:
            RunDeployment(source="selected", deployment_id="00000000-0000-0000-0000-000000000000",
                          parameters=dict(spec.trigger.parameters))
