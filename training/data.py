"""Training data sources, all turned into feature vectors by the one feature path
(:func:`detector.engine.featurize`): simulated normal history, files (CSV, JSONL, NPY), or the
Redis feature history the job wrote.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from detector.config import Config
from detector.events import MalformedEvent, MetricEvent, parse_event
from generator.simulate import Fleet, FleetSpec


def simulated_events(spec: FleetSpec, steps: int, start_ms: int, config: Config) -> Iterator[MetricEvent]:
    """Incident-free events of a simulated fleet, parsed like the stream parses them."""
    fleet = Fleet(spec)
    for ev in fleet.events(start_ms, steps):
        yield parse_event(json.dumps(ev), config.stream.entity_labels, config.stream.metrics)


def file_events(path: Path, config: Config, interval_ms: int = 60_000) -> Iterator[MetricEvent]:
    """Events from a JSONL (one event per line), CSV (header: timestamp, labels, metrics) or NPY file.

    An NPY file is a (T, n_metrics) array of one entity named after the file, one row per
    ``interval_ms``. Malformed lines are skipped and counted on stderr, never silently.
    """
    s = config.stream
    suffix = path.suffix.lower()
    bad = 0
    if suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.ndim != 2 or arr.shape[1] != len(s.metrics):
            raise ValueError(f"{path}: expected shape (T, {len(s.metrics)}), got {arr.shape}")
        labels = {label: path.stem for label in s.entity_labels}
        key = "/".join(labels.values())
        for t, row in enumerate(arr):
            yield MetricEvent(
                key, 1_700_000_000_000 + t * interval_ms, dict(zip(s.metrics, map(float, row), strict=True))
            )
        return
    with path.open() as f:
        lines: Iterator = (
            # an empty cell is a metric missing from that row (as in the stream), not a bad value
            (json.dumps({k: v for k, v in r.items() if v != ""}) for r in csv.DictReader(f))
            if suffix == ".csv"
            else (ln for ln in f if ln.strip())
        )
        for line in lines:
            try:
                yield parse_event(line, s.entity_labels, s.metrics)
            except MalformedEvent:
                bad += 1
    if bad:
        import sys

        print(f"{path}: skipped {bad} malformed records", file=sys.stderr)
