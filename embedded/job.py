"""Run the detection job as a child process on a local Flink MiniCluster, and make sure a model exists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from detector.config import Config
from detector.model_store import ModelIntegrityError, resolve_model_dir, verify
from embedded.services import stop_process

ROOT = Path(__file__).resolve().parents[1]


def ensure_model(models_root: Path, cfg: Config, log_path: Path, epochs: int = 40) -> Path:
    """Reuse the newest model under ``models_root`` if its metrics match the config, else train one."""
    try:
        d = resolve_model_dir(models_root)
        manifest = verify(d)
        if manifest["feature_spec"]["metrics"] == list(cfg.stream.metrics):
            return d
    except ModelIntegrityError:
        pass
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        rc = subprocess.call(
            [
                sys.executable,
                "-m",
                "training.cli",
                "--source",
                "simulated",
                "--out",
                str(models_root),
                "--epochs",
                str(epochs),
                "--quiet",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    if rc != 0:
        raise RuntimeError(f"training failed (exit {rc}); see {log_path}")
    return resolve_model_dir(models_root)


class JobProcess:
    """``python -m jobs.detect`` (or another job module) with the given config, in its own process group."""

    def __init__(self, cfg: Config, log_path: Path, module: str = "jobs.detect"):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        config_file = log_path.with_suffix(".config.json")
        config_file.write_text(cfg.to_json())
        config_file.chmod(0o600)  # it may hold secrets
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, "--config", str(config_file)],
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        stop_process(self.proc, timeout_s=15)
