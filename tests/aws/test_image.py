"""``infra/Dockerfile``, checked by reading it (docker does not run here): what it copies exists and gets past the
ignore file, and every command the ECS services run exists in what it copies."""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from prefect.workers.base import BaseWorker

from tests.aws.moto import ROOT, load_template

DOCKERFILE = ROOT / "infra" / "Dockerfile"
IGNORE = ROOT / "infra" / "Dockerfile.dockerignore"
SERVICE = load_template(ROOT / "infra" / "service.yaml")


def _instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments left out."""
    found, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.endswith("\\"):
            if current.strip():
                keyword, _, arguments = current.strip().partition(" ")
                found.append((keyword.upper(), arguments))
            current = ""
    return found


def _copied(*, final_stage: bool = True) -> list[str]:
    """Sources of the COPY instructions (of the final stage, or of every stage) that come from the build context."""
    final = max(i for i, (keyword, _) in enumerate(_instructions()) if keyword == "FROM") if final_stage else 0
    sources = []
    for keyword, arguments in _instructions()[final:]:
        words = shlex.split(arguments)
        if keyword == "COPY" and not any(w.startswith("--from") for w in words):
            sources += words[:-1]
    return sources


def _ignored(path: str) -> bool:
    # Docker's rule: the last matching pattern wins; "!" re-includes.
    ignored = False
    for line in IGNORE.read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern.rstrip("/") + "/"):
            ignored = not negated
    return ignored


def _commands() -> dict[str, list[str]]:
    found = {}
    for name, resource in SERVICE["Resources"].items():
        if resource["Type"] == "AWS::ECS::TaskDefinition":
            command = resource["Properties"]["ContainerDefinitions"][0].get("Command")
            if command:
                found[name] = command
    return found


def test_the_build_stages_copy_only_what_exists_and_is_not_ignored() -> None:
    for source in _copied(final_stage=False):
        assert (ROOT / source).exists(), source
        assert not _ignored(source), f"{source} is left out by {IGNORE.name}"


def test_the_image_holds_every_package_the_services_import() -> None:
    copied = {s.split("/")[0] for s in _copied()}
    assert {"core", "api", "flows", "tasks", "follower", "deployments", "web"} <= copied


def test_the_flow_run_container_has_the_name_the_prefect_ecs_worker_overrides() -> None:
    flow_run = SERVICE["Resources"]["FlowRunTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert flow_run["Name"] == "prefect"
    assert "Command" not in flow_run  # the worker sets it per flow run


@pytest.mark.parametrize("task_definition", sorted(_commands()))
def test_every_service_command_exists_in_the_image(task_definition: str) -> None:
    command = _commands()[task_definition]
    _assert_runnable(command)


def test_the_default_command_is_the_apis() -> None:
    (arguments,) = [arguments for keyword, arguments in _instructions() if keyword == "CMD"]
    command: list[str] = json.loads(arguments)
    assert command == _commands()["ApiTaskDefinition"]
    _assert_runnable(command)


def _assert_runnable(command: list[str]) -> None:
    copied = {s.split("/")[0] for s in _copied()}
    match command:
        case ["python", "-m", module, *args]:
            assert module.split(".")[0] in copied
            spec = importlib.util.find_spec(f"{module}.__main__")
            assert spec is not None and spec.origin is not None
            source = Path(spec.origin).read_text()
            for option in (a.split("=")[0] for a in args if a.startswith("--")):
                assert f'"{option}"' in source or f'"{option.replace("--no-", "--")}"' in source, option
        case ["prefect", "worker", "start", *args]:
            worker_type = args[args.index("--type") + 1]
            assert _worker_types()[worker_type] is not None
        case _:
            pytest.fail(f"no check for {command}")


def _worker_types() -> dict[str, Any]:
    # prefect-aws registers the "ecs" worker type on import, as `prefect worker start --type ecs` loads it.
    importlib.import_module("prefect_aws.workers")
    types: dict[str, Any] = {}
    for worker in BaseWorker.__subclasses__():
        types[getattr(worker, "type", "")] = worker
    return types
