"""Replay data sets into Kafka: NPY matrices (T, n_metrics) and CSV files (``timestamp`` + columns).

Each file becomes one entity named after the file; records keep their order and are keyed by entity.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from detector.events import parse_timestamp


def replay_records(
    path: Path, entity_labels: Sequence[str], metrics: Sequence[str] | None, start_ms: int, interval_ms: int
) -> Iterator[dict]:
    """Wide events from one file. NPY rows get timestamps ``start_ms + i * interval_ms``; CSV rows keep
    their ``timestamp`` column. ``metrics`` names the NPY columns (default ``m0..mN``)."""
    labels = {label: path.stem for label in entity_labels}
    if path.suffix.lower() == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.ndim == 1:
            arr = arr[:, None]
        names = list(metrics) if metrics else [f"m{i}" for i in range(arr.shape[1])]
        if len(names) != arr.shape[1]:
            raise ValueError(f"{path}: {arr.shape[1]} columns but {len(names)} metric names")
        for i, row in enumerate(arr):
            yield {
                "timestamp": start_ms + i * interval_ms,
                **labels,
                **dict(zip(names, map(float, row), strict=True)),
            }
        return
    with path.open() as f:
        for row in csv.DictReader(f):
            ts = row.pop("timestamp")
            try:
                t = parse_timestamp(ts)
            except ValueError:
                t = parse_timestamp(ts.replace(" ", "T") + "Z")
            values = {k: float(v) for k, v in row.items() if v not in ("", None)}
            yield {"timestamp": t, **labels, **values}
