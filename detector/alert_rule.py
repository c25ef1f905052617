"""When a scored row is an anomaly, and when an anomaly opens an episode (what pages a person).

The engine applies :func:`decide` to every row it scores; the evaluation's replay (``sentinel-eval
replay``) applies the same function to a run's saved scores under other settings, so a threshold or
k-of-n sweep measured offline is the rule the job runs, not a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from detector.config import AlertConfig
from detector.model import NORMAL_UPPER

COUNTER_MAX = 255
"""The row counters saturate here (one byte each in the entity state)."""


class AlertCounters(Protocol):
    """The part of an entity's state the rule reads and updates (``EntityState`` has these fields)."""

    alert_flags: int  # bit i: the score i rows ago was above the threshold
    quiet: int  # scored rows since the last anomaly
    calm: int  # calm rows (at or below the normal 99th percentile and the threshold) since then
    break_quiet: int  # scored rows since the last range break or stuck entity


@dataclass
class Counters:
    """A new entity's counters, for callers without an ``EntityState`` (the replay)."""

    alert_flags: int = 0
    quiet: int = COUNTER_MAX
    calm: int = COUNTER_MAX
    break_quiet: int = COUNTER_MAX


def is_unusual(score: float, threshold: float) -> bool:
    """Above the threshold or above the normal 99th percentile of held-out training rows."""
    return score > threshold or score > NORMAL_UPPER


def range_break_score(model_score: Any, threshold: Any, excess: Any) -> Any:
    """A range break's record score: the model's, or the threshold times the excess (in tolerances) if
    higher, so severity sees how far out it is. Scalars (the engine) or arrays (the replay)."""
    return np.fmax(model_score, threshold * excess)


def decide(
    c: AlertCounters, score: float, threshold: float, at_once: bool, cfg: AlertConfig
) -> tuple[bool, bool]:
    """``(is_anomaly, episode_start)`` for one scored row, updating the counters.

    An anomaly: ``cfg.k`` of the last ``cfg.n`` scores above the threshold, or ``at_once`` (a range
    break or a stuck entity). It opens an episode after ``cfg.episode_gap`` calm rows (scores hovering
    between normal and the threshold have not settled), or after ``cfg.episode_max_gap`` rows of any
    kind (an entity that drifted above normal is never calm, and must still page); an ``at_once``
    anomaly is news even inside an ongoing episode, unless another came within the gap.
    """
    above = score > threshold
    c.alert_flags = ((c.alert_flags << 1) | int(above)) & ((1 << cfg.n) - 1)
    is_anomaly = (above and bin(c.alert_flags).count("1") >= cfg.k) or at_once
    start = False
    gap = cfg.episode_gap
    if is_anomaly:
        start = c.calm >= gap or c.quiet >= cfg.episode_max_gap or (at_once and c.break_quiet >= gap)
        c.quiet = c.calm = 0
    else:
        c.quiet = min(c.quiet + 1, COUNTER_MAX)
        if not is_unusual(score, threshold):
            c.calm = min(c.calm + 1, COUNTER_MAX)
    c.break_quiet = 0 if at_once else min(c.break_quiet + 1, COUNTER_MAX)
    return is_anomaly, start
