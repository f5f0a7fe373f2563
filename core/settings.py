"""One settings object, read from ``CHANGELOGS_*`` environment variables (and ``REDIS_URL``, ``GITHUB_TOKEN``).

Built once per process entry point and passed down; nothing else reads ``os.environ``. Backends are chosen by
the scheme of their URL setting (``core.store``, ``core.queue``), so the same code runs on a laptop and on AWS.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError


class Settings(BaseSettings):
    """Every setting of the service. The README lists them with their defaults."""

    model_config = SettingsConfigDict(env_prefix="CHANGELOGS_", extra="ignore", frozen=True)

    data_dir: Path = Path("data")
    store: str = ""
    artifacts: str = ""
    queue: str = "redis://"
    topic: str | None = None
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "CHANGELOGS_REDIS_URL"))
    github_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GITHUB_TOKEN", "CHANGELOGS_GITHUB_TOKEN")
    )
    aws_endpoint_url: str | None = None

    pypi_url: str = "https://pypi.org"
    rubygems_url: str = "https://rubygems.org"
    npm_replicate_url: str = "https://replicate.npmjs.com/registry"
    npm_registry_url: str = "https://registry.npmjs.org"
    github_api_url: str = "https://api.github.com"

    site_url: str = "http://127.0.0.1:8000"
    user_agent: str = "changelogs/0.1 (+https://github.com/changelogs-md/changelogs)"
    http_timeout_s: float = 20.0

    schedule_interval_s: float = 300.0
    crawl_concurrency: int = 8
    crawl_batch_size: int = 50
    crawl_drain_seconds: float = 0.0
    recrawl_after_s: int = 3600
    revisit_after_s: int = 86400
    gone_backoff_days: int = 180
    no_changelog_backoff_days: int = 7
    max_changelog_bytes: int = 5_000_000
    queue_visibility_timeout_s: int = 600
    queue_max_deliveries: int = 5
    # crawl-queue runs that may run at once: one per worker process (the deployment's concurrency limit).
    crawl_workers: int = 1
    # How long a crawl holds its repository's lock (two workers never crawl one repository at once).
    crawl_lock_ttl_s: float = 300.0
    # The Prefect Secret block holding the GitHub token, read when GITHUB_TOKEN is not set.
    github_token_block: str | None = None
    # Share of GitHub's hourly limit kept back (100 of 5,000; 2 of the 60 an anonymous client gets).
    github_budget_reserve: float = 0.02
    # A crawl waits this long at most for the budget to reset; past it the work goes back to the queue.
    github_max_wait_s: float = 120.0
    # The Prefect global concurrency limit every charged GitHub request takes a slot of: bursts of up to the
    # slots, then the slot decay spreads the budget (1.38/s ≈ 5,000/h). Strict: a missing limit is an error.
    github_rate_limit: str = "github-api"
    github_rate_limit_slots: int = 500
    github_rate_limit_per_s: float = 1.38
    github_rate_limit_strict: bool = True

    npm_batch_size: int = 500
    npm_fetch_concurrency: int = 16
    npm_poll_interval_s: float = 2.0
    # Where the follower's first run starts: "now" (the feed's end), "0" (the whole feed) or a sequence.
    npm_start: str = "now"
    follower_health_port: int | None = None

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        # Local backends live under data_dir unless told otherwise.
        if not self.store:
            object.__setattr__(self, "store", f"sqlite:///{self.data_dir / 'changelogs.db'}")
        if not self.artifacts:
            object.__setattr__(self, "artifacts", f"file://{self.data_dir / 'artifacts'}")
        if not self.crawl_drain_seconds:
            # A crawl-queue run ends a little after the next one starts (a run takes seconds to start), so the
            # queue is never left without a consumer.
            object.__setattr__(self, "crawl_drain_seconds", self.schedule_interval_s + 15)
        return self


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, raising ``ConfigError`` that names the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"CHANGELOGS_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(problems) from exc
