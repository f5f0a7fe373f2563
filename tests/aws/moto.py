"""moto in server mode as the tests' AWS, and ``infra/data.yaml`` deployed into it.

The stack goes through moto's own CloudFormation, so the names, queue attributes, indexes and outputs the code
uses are the ones the template creates. What moto's CloudFormation does not implement (``AWS::SNS::Subscription``,
``AWS::SQS::QueuePolicy``, a table's ``TimeToLiveSpecification``) is then applied from the template's own
properties; any other resource moto skips fails the deployment, so the template cannot drift from what is tested.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
from cfnlint.decode import decode_str

from cli.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
DATA_TEMPLATE = ROOT / "infra" / "data.yaml"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}


class MotoServer:
    """``moto_server`` as a real process on a free loopback port."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._clients: dict[str, Any] = {}

    def start(self, timeout_s: float = 30) -> str:
        moto_server = Path(sys.executable).with_name("moto_server")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(moto_server), "-H", "127.0.0.1", "-p", str(self.port)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.returncode}: see {self.log}")
            try:
                if httpx.get(f"{self.url}/moto-api/", timeout=1).is_success:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"moto_server not ready after {timeout_s}s: see {self.log}")

    def reset(self) -> None:
        """Forget every resource (moto's documented reset)."""
        httpx.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self, service: str) -> Any:
        """A boto3 client on moto, made once (clients are slow to build and outlive a reset)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.url,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self._clients[service]


def load_template(path: Path = DATA_TEMPLATE) -> dict[str, Any]:
    """A template as plain data, short-form tags (``!Ref``, ``!GetAtt``, ``!Sub``) in their long form."""
    template, problems = decode_str(path.read_text())
    if problems or template is None:
        raise ValueError(f"{path}: {problems}")
    loaded: dict[str, Any] = json.loads(json.dumps(template))
    return loaded


def deploy_data_stack(moto: MotoServer, *, name: str = "changelogs") -> dict[str, str]:
    """Deploy ``infra/data.yaml`` into moto and return its outputs (``Store``, ``Queue``, ``Topic``…)."""
    cloudformation = moto.client("cloudformation")
    template = load_template()
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=DATA_TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": "Name", "ParameterValue": name}],
    )
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {name}: {stack['StackStatus']} {stack.get('StackStatusReason')}")
    created = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.describe_stack_resources(StackName=name)["StackResources"]
        if "LogicalResourceId" in r  # moto lists what it skipped without a name
    }
    _complete(moto, template["Resources"], created)
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _complete(moto: MotoServer, resources: dict[str, Any], created: dict[str, str]) -> None:
    """Apply what moto's CloudFormation skipped, from the template's properties."""
    sqs, sns, dynamodb = moto.client("sqs"), moto.client("sns"), moto.client("dynamodb")

    def ref(value: Any) -> str:
        if "Ref" in value:
            return created[value["Ref"]]
        logical, attribute = value["Fn::GetAtt"]
        if resources[logical]["Type"] == "AWS::SQS::Queue" and attribute == "Arn":
            attributes = sqs.get_queue_attributes(QueueUrl=created[logical], AttributeNames=["QueueArn"])
            return str(attributes["Attributes"]["QueueArn"])
        raise NotImplementedError(f"{logical}.{attribute}")

    for logical, resource in resources.items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::DynamoDB::Table" and "TimeToLiveSpecification" in properties:
            dynamodb.update_time_to_live(
                TableName=created[logical], TimeToLiveSpecification=properties["TimeToLiveSpecification"]
            )
        if logical in created:
            continue
        if kind == "AWS::SNS::Subscription":
            raw = "true" if properties.get("RawMessageDelivery") else "false"
            sns.subscribe(
                TopicArn=ref(properties["TopicArn"]),
                Protocol=properties["Protocol"],
                Endpoint=ref(properties["Endpoint"]),
                Attributes={"RawMessageDelivery": raw},
            )
        elif kind == "AWS::SQS::QueuePolicy":
            policy = json.dumps(_resolve(properties["PolicyDocument"], ref))
            for queue in properties["Queues"]:
                sqs.set_queue_attributes(QueueUrl=ref(queue), Attributes={"Policy": policy})
        else:
            raise NotImplementedError(f"moto's CloudFormation skipped {logical} ({kind}) and the tests cannot add it")


def _resolve(value: Any, ref: Any) -> Any:
    if isinstance(value, dict):
        if set(value) in ({"Ref"}, {"Fn::GetAtt"}):
            return ref(value)
        return {k: _resolve(v, ref) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, ref) for v in value]
    return value
