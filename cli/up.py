"""``changelogs up``: run the whole service on this machine, on embedded parts where nothing else is given."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def up(
    use_sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Run against the local sandbox instead of the real registries.")
    ] = False,
    demo: Annotated[float, typer.Option(help="With --sandbox: publish a new release every N seconds (0: off).")] = 5.0,
    interval: Annotated[
        float | None, typer.Option(help="Seconds between scheduled polls and crawls [default: 300; 60 with --sandbox].")
    ] = None,
    host: Annotated[str, typer.Option(help="Address the site listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the site.")] = 8000,
    prefect_port: Annotated[int, typer.Option(help="Port of the local Prefect server.")] = 4200,
    data_dir: Annotated[Path, typer.Option(help="Where everything local is kept.")] = Path("data"),
) -> None:
    """Start Redis, Prefect, the deployments' runner, the npm follower and the site; Ctrl-C stops them all."""
    from cli.processes import Child, http_ok, prefect_env, prefect_server, python, sandbox, sandbox_env, stop_on_signals
    from core.redis import EmbeddedRedis

    started = time.monotonic()
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = open(data_dir / "up.lock", "w")  # noqa: SIM115 - held for the life of the command
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        console.print(f"[red]another `changelogs up` is running on {data_dir}[/]")
        raise typer.Exit(1) from None
    logs = data_dir / "logs"
    env: dict[str, str] = {
        "CHANGELOGS_DATA_DIR": str(data_dir),
        "CHANGELOGS_SITE_URL": f"http://{host}:{port}",
        "CHANGELOGS_SCHEDULE_INTERVAL_S": str(interval or (60 if use_sandbox else 300)),
    }
    children: list[Child] = []
    redis = None
    stopping = stop_on_signals()

    def launch(child: Child, timeout_s: float = 60) -> None:
        console.print(f"  starting [bold]{child.name}[/] (log: {logs / (child.name + '.log')})")
        children.append(child)
        child.start()
        child.wait_ready(timeout_s)

    try:
        if not os.environ.get("REDIS_URL"):
            redis = EmbeddedRedis(data_dir / "redis")
            env["REDIS_URL"] = redis.start()
            console.print(f"  embedded Redis at {env['REDIS_URL']}")
        if os.environ.get("PREFECT_API_URL"):
            env["PREFECT_API_URL"] = os.environ["PREFECT_API_URL"]
        else:
            launch(prefect_server(data_dir, port=prefect_port, log_dir=logs), timeout_s=120)
            env |= prefect_env(data_dir, port=prefect_port)
        if use_sandbox:
            launch(sandbox(data_dir, log_dir=logs, demo_s=demo or None))
            env |= sandbox_env(data_dir)
            # The sandbox's GitHub treats any token as a 5,000-request-an-hour one, as GitHub does a real PAT.
            env.setdefault("GITHUB_TOKEN", os.environ.get("GITHUB_TOKEN", "sandbox-token"))
        launch(Child("runner", python("-m", "deployments.serve"), env, logs))
        launch(Child("follower", python("-m", "follower"), env, logs))
        api = Child(
            "api",
            python("-m", "api", "--host", host, "--port", str(port)),
            env,
            logs,
            ready=http_ok(f"http://{host}:{port}/healthz"),
        )
        launch(api)
        console.print(
            f"\n[bold green]changelogs is up[/] in {time.monotonic() - started:.1f}s\n"
            f"  site        http://{host}:{port}\n"
            f"  Prefect UI  {env['PREFECT_API_URL'].removesuffix('/api')}\n"
            f"  logs        {logs}\n"
            "Ctrl-C stops everything.\n"
        )
        restart_at: dict[str, float] = {}
        while not stopping():
            for child in children:
                if child.alive() or not child.restart or stopping():
                    continue
                if child.name not in restart_at:
                    # Back off 1, 2, 4 … 60 s so a child that cannot start does not spin.
                    delay = min(2.0**child.restarts, 60.0)
                    restart_at[child.name] = time.monotonic() + delay
                    console.print(f"[yellow]{child.name} exited; restarting in {delay:.0f}s[/]\n{child.tail(5)}")
                elif time.monotonic() >= restart_at[child.name]:
                    del restart_at[child.name]
                    child.restarts += 1
                    child.stop()
                    child.start()
            time.sleep(0.5)
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    finally:
        console.print("stopping…")
        for child in reversed(children):
            child.stop()
        if redis is not None:
            redis.stop()
        console.print("stopped.")


def register(app: typer.Typer) -> None:
    app.command("up")(up)
