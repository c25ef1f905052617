"""A real standalone Flink session cluster from the apache-flink wheel's distribution (JobManager +
TaskManager as child processes, stopped by pid), and ``flink run`` submission of the job file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from embedded.services import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]


def flink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).parent


class StandaloneCluster:
    def __init__(self, run_dir: Path, conf_file: Path = ROOT / "flink-conf/config.yaml"):
        self.run_dir = run_dir
        self.conf_dir = run_dir / "conf"
        self.log_dir = run_dir / "log"
        self.rest_port = free_port()
        text = conf_file.read_text()
        text = re.sub(r"(\n  rpc:\n    address: localhost\n    port: )\d+", rf"\g<1>{free_port()}", text)
        text = re.sub(r"(\nrest:\n(?:  .*\n)*?  port: )\d+", rf"\g<1>{self.rest_port}", text)
        text = text.replace("file:///tmp/sentinel-checkpoints", (run_dir / "checkpoints").as_uri())
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "config.yaml").write_text(text)
        self.procs: list[subprocess.Popen] = []
        self.env = dict(
            os.environ,
            FLINK_CONF_DIR=str(self.conf_dir),
            FLINK_LOG_DIR=str(self.log_dir),
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )

    @property
    def rest(self) -> str:
        return f"http://localhost:{self.rest_port}"

    def _daemon(self, script: str) -> subprocess.Popen:
        log = (self.log_dir / f"{script}.out").open("wb")
        p = subprocess.Popen(
            ["bash", str(flink_home() / "bin" / script), "start-foreground"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(p)
        return p

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.rest + path, timeout=5) as r:
            return json.loads(r.read())

    def start(self, timeout_s: float = 90) -> StandaloneCluster:
        self._daemon("jobmanager.sh")
        self._daemon("taskmanager.sh")
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            try:
                if self.get("/overview").get("taskmanagers", 0) >= 1:
                    return self
            except OSError:
                pass
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(1)
        raise RuntimeError(f"the Flink cluster did not come up; logs in {self.log_dir}")

    def submit(self, job_file: Path, args: list[str], timeout_s: float = 180) -> str:
        """``flink run -d -py job_file -- args``; returns the job id."""
        py = sys.executable
        cmd = [
            "bash",
            str(flink_home() / "bin/flink"),
            "run",
            "-d",
            "-m",
            f"localhost:{self.rest_port}",
            "-pyexec",
            py,
            "-pyclientexec",
            py,
            "-py",
            str(job_file),
            *args,
        ]
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)
        m = re.search(r"JobID ([0-9a-f]{32})", r.stdout + r.stderr)
        if r.returncode != 0 or not m:
            raise RuntimeError(f"flink run failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        return m.group(1)

    def job_state(self, job_id: str) -> str:
        return str(self.get(f"/jobs/{job_id}")["state"])

    def stop(self) -> None:
        for p in reversed(self.procs):
            stop_process(p, timeout_s=15)
        self.procs.clear()

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
