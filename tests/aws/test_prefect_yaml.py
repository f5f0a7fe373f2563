"""``deployments/prefect-ecs.yaml``, the ECS twins of ``deployments/prefect.yaml``, and the work pool they name."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from prefect_aws.workers.ecs_worker import ECSVariables

from infra.ecs_pool import POOL, base_job_template
from infra.topology import ECS_PREFECT_YAML, PREFECT_YAML
from infra.topology import POOL as LOCAL_POOL
from tests.aws.moto import ROOT, load_template

DEPLOYMENTS: list[dict[str, Any]] = [
    entry for path in (PREFECT_YAML, ECS_PREFECT_YAML) for entry in yaml.safe_load(path.read_text())["deployments"]
]
OUTPUTS = {
    "Cluster": "changelogs",
    "FlowRunTaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/changelogs-flow-run:3",
    "TaskSubnets": "subnet-1,subnet-2",
    "TaskSecurityGroup": "sg-1",
}


def _by_pool(pool: str) -> dict[str, dict[str, Any]]:
    return {d["entrypoint"]: d for d in DEPLOYMENTS if d["work_pool"]["name"] == pool}


def test_every_local_deployment_has_an_ecs_twin_named_ecs() -> None:
    local, ecs = _by_pool(LOCAL_POOL), _by_pool(POOL)
    assert set(ecs) == set(local)
    for entrypoint, twin in ecs.items():
        assert twin["name"] == "ecs"
        for field in ("description", "schedules", "concurrency_limit", "parameters"):
            assert twin.get(field) == local[entrypoint].get(field), (entrypoint, field)


@pytest.mark.parametrize("entrypoint", sorted(_by_pool(POOL)))
def test_ecs_flow_runs_start_in_the_image_where_the_flows_are(entrypoint: str) -> None:
    (step,) = _by_pool(POOL)[entrypoint]["pull"]
    workdir = step["prefect.deployments.steps.set_working_directory"]["directory"]
    dockerfile = (ROOT / "infra" / "Dockerfile").read_text()
    assert f"WORKDIR {workdir}" in dockerfile
    assert (ROOT / entrypoint.split(":")[0]).exists()


def test_the_ecs_pool_template_runs_the_stacks_task_definition_in_its_private_subnets() -> None:
    template = base_job_template(OUTPUTS)
    defaults = {name: spec.get("default") for name, spec in template["variables"]["properties"].items()}
    variables = ECSVariables(**{k: v for k, v in defaults.items() if v is not None})
    assert variables.cluster == "changelogs"
    assert variables.task_definition_arn == OUTPUTS["FlowRunTaskDefinitionArn"]
    assert variables.network_configuration == {
        "subnets": ["subnet-1", "subnet-2"],
        "securityGroups": ["sg-1"],
        "assignPublicIp": "DISABLED",
    }
    assert template["job_configuration"]["task_run_request"]["taskDefinition"] == "{{ task_definition_arn }}"


def test_the_ecs_pool_reads_every_output_it_needs_from_the_service_template() -> None:
    assert set(OUTPUTS) <= set(load_template(ROOT / "infra" / "service.yaml")["Outputs"])


@pytest.mark.parametrize("path", [PREFECT_YAML, ECS_PREFECT_YAML], ids=lambda p: p.name)
def test_each_prefect_file_names_one_work_pool_so_deploy_all_needs_only_that_one(path: Any) -> None:
    # `prefect deploy --all` fails on the first deployment whose pool does not exist.
    pools = {d["work_pool"]["name"] for d in yaml.safe_load(path.read_text())["deployments"]}
    assert pools == {LOCAL_POOL if path == PREFECT_YAML else POOL}
