"""Start and stop the local services of the embedded default: the Tansu broker and redis-server.

Each service is a child process on a free loopback port, stopped by its pid (never by name).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TANSU = ROOT / ".cache/bin/tansu"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s}s")


def stop_process(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL after ``timeout_s``."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@dataclass
class Service:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None

    def stop(self, hard: bool = False) -> None:
        """SIGTERM (then SIGKILL), or straight SIGKILL with ``hard``."""
        if hard and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        stop_process(self.proc)


@dataclass
class LocalStack:
    """A broker and a redis-server on free ports; use as a context manager.

    ``broker_storage`` is Tansu's storage engine URL (``memory://`` dies with the process; ``s3://``
    with ``broker_env`` pointing at an S3-compatible server keeps the log across restarts).
    ``redis_password`` turns on AUTH; ``redis_persist`` turns on the append-only file so a stopped
    and restarted redis-server keeps its data.
    """

    run_dir: Path
    broker_storage: str = "memory://tansu/"
    broker_env: dict[str, str] | None = None
    redis_password: str = ""
    redis_persist: bool = False
    services: list[Service] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self._svc('broker').port}"

    @property
    def redis_port(self) -> int:
        return self._svc("redis").port

    def _svc(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def _spawn(self, name: str, cmd: list[str], port: int, env: dict[str, str] | None = None) -> Service:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.run_dir / f"{name}.log"
        log = log_path.open("ab")
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=None if env is None else {**os.environ, **env},
        )
        svc = Service(name, port, proc, log_path, cmd, env)
        self.services.append(svc)
        try:
            wait_port(port, proc=proc)
        except Exception as e:
            raise RuntimeError(f"{name} did not start ({e}); see {log_path}") from None
        return svc

    def stop_service(self, name: str, hard: bool = False) -> Service:
        """Stop one service (kill -9 with ``hard``); ``start_again`` brings it back on the same port."""
        svc = self._svc(name)
        svc.stop(hard=hard)
        self.services.remove(svc)
        return svc

    def start_again(self, svc: Service) -> Service:
        return self._spawn(svc.name, svc.cmd, svc.port, svc.env)

    def start_broker(self) -> Service:
        if not TANSU.is_file():
            raise RuntimeError(f"{TANSU} is missing: run `make setup` (scripts/bootstrap.sh)")
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        cmd = [
            str(TANSU),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.broker_storage,
        ]
        return self._spawn("broker", cmd, port, self.broker_env)

    def start_redis(self) -> Service:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError(
                "redis-server is not installed: run `make setup` or `apt-get install redis-server`"
            )
        port = free_port()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        conf = self.run_dir / "redis.conf"  # a file, so the password is not on a command line
        lines = [
            f"port {port}",
            "bind 127.0.0.1",
            "daemonize no",
            f"dir {self.run_dir}",
            'save ""',
            f"appendonly {'yes' if self.redis_persist else 'no'}",
            "appendfsync everysec",
        ]
        if self.redis_password:
            lines.append(f"requirepass {self.redis_password}")
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o600)
        return self._spawn("redis", [exe, str(conf)], port)

    def start(self) -> LocalStack:
        self.start_broker()
        self.start_redis()
        return self

    def stop(self) -> None:
        for svc in reversed(self.services):
            svc.stop()
        self.services.clear()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
