"""``python -m infra.ecs_pool``: create or update the ECS work pool the ``ecs`` deployments run on.

The pool's base job template carries what every flow run needs on AWS, taken from the outputs of the service
stack (``infra/service.yaml``): the cluster, the flow-run task definition (image, roles, the GitHub token from
Secrets Manager, logs), the private subnets and security group. Deployments then name only the pool.

    aws cloudformation describe-stacks --stack-name changelogs-service --query 'Stacks[0].Outputs' > outputs.json
    python -m infra.ecs_pool outputs.json [--pool changelogs-ecs]

Needs ``PREFECT_API_URL`` (and ``PREFECT_API_KEY`` for Prefect Cloud).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.exceptions import ObjectNotFound
from prefect_aws.workers.ecs_worker import ECSWorker

POOL = "changelogs-ecs"


def base_job_template(outputs: dict[str, str]) -> dict[str, Any]:
    """prefect-aws's ECS template with this deployment's defaults, from the service stack's ``outputs``."""
    template = copy.deepcopy(ECSWorker.get_default_base_job_template())
    defaults: dict[str, Any] = {
        "cluster": outputs["Cluster"],
        "task_definition_arn": outputs["FlowRunTaskDefinitionArn"],
        "launch_type": "FARGATE",
        "network_configuration": {
            "subnets": outputs["TaskSubnets"].split(","),
            "securityGroups": [outputs["TaskSecurityGroup"]],
            "assignPublicIp": "DISABLED",
        },
        # The task definition already sends the container's output to CloudWatch Logs.
        "configure_cloudwatch_logs": False,
        "stream_output": False,
    }
    properties = template["variables"]["properties"]
    for name, value in defaults.items():
        properties[name]["default"] = value
    return template


def read_outputs(path: Path) -> dict[str, str]:
    """Stack outputs as ``aws cloudformation describe-stacks --query 'Stacks[0].Outputs'`` prints them, by key."""
    return {o["OutputKey"]: o["OutputValue"] for o in json.loads(path.read_text())}


async def apply(pool: str, template: dict[str, Any]) -> str:
    """Create the pool, or give an existing one this template; returns what was done."""
    async with get_client() as client:
        try:
            await client.read_work_pool(pool)
        except ObjectNotFound:
            await client.create_work_pool(WorkPoolCreate(name=pool, type="ecs", base_job_template=template))
            return "created"
        await client.update_work_pool(pool, WorkPoolUpdate(base_job_template=template))
        return "updated"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.ecs_pool", description=__doc__.splitlines()[0])
    parser.add_argument("outputs", type=Path, help="the outputs of the stack deployed from infra/service.yaml")
    parser.add_argument("--pool", default=POOL)
    args = parser.parse_args()
    done = asyncio.run(apply(args.pool, base_job_template(read_outputs(args.outputs))))
    print(f"work pool {args.pool} {done}")


if __name__ == "__main__":
    main()
