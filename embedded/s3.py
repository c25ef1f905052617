"""A local S3-compatible server (moto, a dev dependency) so the embedded broker's ``s3://`` storage
engine keeps topics and records across a broker restart (``memory://`` dies with the process)."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

from embedded.services import free_port, stop_process, wait_port

BUCKET = "tansu"


class S3Server:
    """``moto_server`` on a free loopback port with one bucket; stopped by pid."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> tuple[str, dict[str, str]]:
        """Start it; returns Tansu's ``--storage-engine`` URL and the environment it needs."""
        try:
            import moto.server  # noqa: F401
        except ImportError:
            raise RuntimeError("moto is not installed: run `make setup` (it is a dev dependency)") from None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = (self.run_dir / "s3.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_port(self.port, timeout_s=60, proc=self.proc)
        endpoint = f"http://127.0.0.1:{self.port}"
        urllib.request.urlopen(
            urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT"), timeout=30
        ).close()
        env = {
            "AWS_ENDPOINT": endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        return f"s3://{BUCKET}/", env

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
