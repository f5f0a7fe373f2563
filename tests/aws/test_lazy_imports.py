"""A laptop run never imports boto3: the AWS backends load only when their URL scheme is configured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = """
import sys
from pathlib import Path
from core.settings import Settings
from core.store import open_artifacts, open_records
from core.queue import open_queue
import api.asgi, flows.crawl_queue, follower.follower, tasks.crawl
settings = Settings(data_dir=Path(sys.argv[1]), redis_url="redis://127.0.0.1:1")
open_records(settings), open_artifacts(settings), open_queue(settings)
print(sorted(m for m in ("boto3", "botocore") if m in sys.modules))
# The control: the same process imports boto3 once a backend on AWS is configured.
open_records(settings.model_copy(update={"store": "dynamodb://t"}))
print(sorted(m for m in ("boto3", "botocore") if m in sys.modules))
"""


def test_api_and_crawler_import_boto3_only_for_aws_backends(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-2:] == ["[]", "['boto3', 'botocore']"]
