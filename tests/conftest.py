"""Shared fixtures: a small real model trained once per session, and the real local services."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.config import Config, load_config
from detector.engine import featurize
from generator.simulate import FleetSpec
from training.data import simulated_events
from training.train import FittedModel, TrainParams, export, fit


@pytest.fixture(scope="session")
def cfg() -> Config:
    return load_config(env={})


@pytest.fixture(scope="session")
def fitted(cfg: Config) -> FittedModel:
    """A model fitted on simulated normal history (small, ~15 s on 2 cores)."""
    x, _, _ = featurize(simulated_events(FleetSpec(hosts=40, seed=42), 500, 1_700_000_000_000, cfg), cfg)
    return fit(x, cfg, TrainParams(epochs=20, min_steps=0), progress=False)


@pytest.fixture(scope="session")
def model_dir(fitted: FittedModel, cfg: Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    return export(
        fitted, root, cfg, TrainParams(epochs=20, min_steps=0), {"source": "simulated", "test": True}
    )


@pytest.fixture
def stack(tmp_path: Path):
    """A real Tansu broker and a real redis-server on free ports, stopped by pid afterwards."""
    from embedded.services import LocalStack

    with LocalStack(tmp_path / "run") as s:
        yield s
