"""The static-threshold baseline users compare against: per-metric upper limits learned from
normal data (a high quantile times a margin), alert when any metric is past its limit for k of n steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detector.engine import iso_ms
from detector.events import MetricEvent


@dataclass
class StaticThresholds:
    metrics: list[str]
    quantile: float = 0.999
    margin: float = 1.05
    k: int = 2
    n: int = 3
    limits_: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def fit(self, events: Iterable[MetricEvent]) -> StaticThresholds:
        """Learn one upper limit per metric from normal events."""
        cols: list[list[float]] = [[] for _ in self.metrics]
        for ev in events:
            for i, m in enumerate(self.metrics):
                if m in ev.values:
                    cols[i].append(ev.values[m])
        self.limits_ = np.array([np.quantile(c, self.quantile) * self.margin for c in cols])
        return self

    def detect(self, events: Iterable[MetricEvent]) -> list[dict[str, Any]]:
        """Anomaly records (same shape as the model's, minus scores) for events past a limit."""
        flags: dict[str, int] = {}
        mask = (1 << self.n) - 1
        out = []
        for ev in events:
            over = [m for i, m in enumerate(self.metrics) if ev.values.get(m, -np.inf) > self.limits_[i]]
            f = flags[ev.key] = ((flags.get(ev.key, 0) << 1) | bool(over)) & mask
            if over and bin(f).count("1") >= self.k:
                out.append(
                    {
                        "key": ev.key,
                        "event_time_ms": ev.timestamp_ms,
                        "event_time": iso_ms(ev.timestamp_ms),
                        "metrics": over,
                    }
                )
        return out
