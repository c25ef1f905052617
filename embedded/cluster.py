"""A real standalone Flink session cluster from the apache-flink wheel's distribution (JobManager +
TaskManager as child processes, stopped by pid), and ``flink run`` submission of the job file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from embedded.services import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]


def flink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).parent


class StandaloneCluster:
    """JobManager + TaskManagers in their own process groups; ``extra_conf`` lines are appended to
    the configuration (e.g. shorter heartbeats for fault injection)."""

    def __init__(
        self,
        run_dir: Path,
        conf_file: Path = ROOT / "flink-conf/config.yaml",
        extra_conf: dict[str, str] | None = None,
    ):
        self.run_dir = run_dir
        self.conf_dir = run_dir / "conf"
        self.log_dir = run_dir / "log"
        self.rest_port = free_port()
        text = conf_file.read_text()
        text = re.sub(r"(\n  rpc:\n    address: localhost\n    port: )\d+", rf"\g<1>{free_port()}", text)
        text = re.sub(r"(\nrest:\n(?:  .*\n)*?  port: )\d+", rf"\g<1>{self.rest_port}", text)
        text = text.replace("file:///tmp/sentinel-checkpoints", (run_dir / "checkpoints").as_uri())
        text += "".join(f"{k}: {v}\n" for k, v in (extra_conf or {}).items())
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "config.yaml").write_text(text)
        for logging_conf in (flink_home() / "conf").glob("log4j*.properties"):  # else Flink logs nothing
            shutil.copy(logging_conf, self.conf_dir / logging_conf.name)
        self.procs: list[subprocess.Popen] = []
        self.taskmanagers: list[subprocess.Popen] = []
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

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.rest + path, timeout=5) as r:
            return json.loads(r.read())

    def start_taskmanager(self) -> subprocess.Popen:
        """One more TaskManager (e.g. the replacement of a killed one)."""
        tm = self._daemon("taskmanager.sh")
        self.taskmanagers.append(tm)
        return tm

    def kill_taskmanager(self) -> int:
        """kill -9 the oldest live TaskManager and its Python workers (its process group); its pid."""
        tm = next(p for p in self.taskmanagers if p.poll() is None)
        os.killpg(tm.pid, signal.SIGKILL)
        tm.wait(10)
        self.taskmanagers.remove(tm)
        self.procs.remove(tm)
        return tm.pid

    def registered_taskmanagers(self) -> int:
        return int(self.get("/overview").get("taskmanagers", 0))

    def checkpoints_completed(self, job_id: str) -> int:
        return int(self.get(f"/jobs/{job_id}/checkpoints")["counts"]["completed"])

    def wait_committed(self, job_id: str, timeout_s: float = 120) -> None:
        """Wait for two more completed checkpoints: the second started after this call, so the
        transactions holding every exactly-once output emitted before it are committed, or being
        committed as the sinks learn of its completion: read them with a drain that waits until the
        topic is quiet (``drain_topic``). Raises if the job stops running or the timeout passes."""
        deadline = time.time() + timeout_s
        done = -1
        while time.time() < deadline:
            try:
                state = self.job_state(job_id)
                completed = self.checkpoints_completed(job_id)
            except (OSError, KeyError):  # the REST endpoint is briefly unavailable
                time.sleep(0.5)
                continue
            if state not in ("CREATED", "INITIALIZING", "RUNNING", "RESTARTING"):
                raise RuntimeError(f"job {job_id} is {state}, its outputs will not be committed")
            if done < 0:
                done = completed
            elif completed >= done + 2:
                return
            time.sleep(0.5)
        raise RuntimeError(f"job {job_id}: no two completed checkpoints in {timeout_s}s")

    def restarts(self, job_id: str) -> int:
        """How many failures the job recovered from since it was submitted (its exception history)."""
        return len(self.get(f"/jobs/{job_id}/exceptions?maxExceptions=1000")["exceptionHistory"]["entries"])

    def tasks_running(self, job_id: str) -> bool:
        """The job and every one of its tasks are RUNNING (deployed and processing)."""
        job = self.get(f"/jobs/{job_id}")
        return bool(job["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in job["vertices"]))

    def wait_running(self, job_id: str, timeout_s: float = 180, checkpoints_after: int = -1) -> None:
        """Wait until every task runs and (optionally) a checkpoint newer than ``checkpoints_after``
        completed, i.e. the job recovered and has state to restore from again."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            try:
                if self.tasks_running(job_id) and self.checkpoints_completed(job_id) > checkpoints_after:
                    return
            except (OSError, KeyError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"job {job_id} not running (with a new checkpoint) after {timeout_s}s")

    def cancel(self, job_id: str) -> None:
        req = urllib.request.Request(self.rest + f"/jobs/{job_id}?mode=cancel", method="PATCH")
        urllib.request.urlopen(req, timeout=10).close()

    def start(self, timeout_s: float = 90) -> StandaloneCluster:
        self._daemon("jobmanager.sh")
        self.start_taskmanager()
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
