"""Point-wise detection measures on a 0/1 label array (SMD and any matrix-layout data).

- :func:`prf` point-wise precision / recall / F1 of 0/1 predictions (the headline, no point-adjust).
- :func:`best_f1` oracle best-threshold F1 (uses the labels: literature comparison only).
- :func:`point_adjust` the point-adjust protocol (a hit anywhere in a labelled segment marks the whole
  segment detected), which inflates F1 (Kim et al., AAAI 2022); reported beside, never as headline.
- :func:`event_detection` event-level recall and detection delay per labelled segment.

>>> prf(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
{'precision': 0.5, 'recall': 0.5, 'f1': 0.5}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluation.datasets import segments


def prf(pred: np.ndarray, label: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of 0/1 predictions; 0 where undefined (no positives)."""
    pred = np.asarray(pred) > 0
    label = np.asarray(label) > 0
    tp = float(np.sum(pred & label))
    fp = float(np.sum(pred & ~label))
    fn = float(np.sum(~pred & label))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def best_f1(scores: np.ndarray, label: np.ndarray) -> tuple[float, float]:
    """(best F1 over every threshold ``score >= t``, that threshold). Uses the labels: oracle."""
    scores = np.asarray(scores, dtype=np.float64)
    label = np.asarray(label) > 0
    n_pos = int(label.sum())
    if n_pos == 0 or len(scores) == 0:
        return 0.0, float("inf")
    order = np.argsort(-scores, kind="stable")
    s, lab = scores[order], label[order]
    tp = np.cumsum(lab)
    k = np.arange(1, len(s) + 1)
    last = np.flatnonzero(np.concatenate([s[1:] != s[:-1], [True]]))  # all rows >= s[last] included
    tp, k = tp[last], k[last]
    f1 = 2 * tp / (k + n_pos)
    i = int(np.argmax(f1))
    return float(f1[i]), float(s[last][i])


def point_adjust(pred: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Predictions with every labelled segment that holds at least one hit marked entirely as hit."""
    out = (np.asarray(pred) > 0).astype(np.int8)
    for s, e in segments(label):
        if out[s : e + 1].any():
            out[s : e + 1] = 1
    return out


def best_f1_point_adjusted(scores: np.ndarray, label: np.ndarray) -> float:
    """Best point-adjusted F1 over thresholds (the literature's SMD protocol; oracle and inflated)."""
    scores = np.asarray(scores, dtype=np.float64)
    label = np.asarray(label) > 0
    segs = segments(label)
    n_pos = int(label.sum())
    if not segs:
        return 0.0
    # a threshold t detects a segment of length L when t <= its max score: it adds L true positives;
    # rows outside segments add false positives when t <= their score
    seg_max = np.array([scores[s : e + 1].max() for s, e in segs])
    seg_len = np.array([e - s + 1 for s, e in segs], dtype=np.float64)
    out_scores = scores[~label]
    vals = np.concatenate([seg_max, out_scores])
    tp_d = np.concatenate([seg_len, np.zeros(len(out_scores))])
    fp_d = np.concatenate([np.zeros(len(seg_max)), np.ones(len(out_scores))])
    order = np.argsort(-vals, kind="stable")
    v, tp, fp = vals[order], np.cumsum(tp_d[order]), np.cumsum(fp_d[order])
    last = np.flatnonzero(np.concatenate([v[1:] != v[:-1], [True]]))
    tp, fp = tp[last], fp[last]
    f1 = 2 * tp / (2 * tp + fp + (n_pos - tp))
    return float(f1.max())


@dataclass
class EventDetection:
    """Per labelled segment: whether an alert fell inside it, and the delay of the first one."""

    segments: list[tuple[int, int]]
    first_alert: list[int | None]

    @property
    def recall(self) -> float:
        return sum(a is not None for a in self.first_alert) / len(self.segments) if self.segments else 0.0

    def lead_steps(self) -> list[int]:
        """First alert minus segment start, in steps, for each detected segment."""
        return [a - s for (s, _), a in zip(self.segments, self.first_alert, strict=True) if a is not None]


def event_detection(alerts: np.ndarray, label_segments: list[tuple[int, int]]) -> EventDetection:
    """Which inclusive segments hold an alert, and the first one's row index."""
    alerts = np.asarray(alerts) > 0
    firsts: list[int | None] = []
    for s, e in label_segments:
        hits = np.flatnonzero(alerts[s : e + 1])
        firsts.append(s + int(hits[0]) if len(hits) else None)
    return EventDetection(list(label_segments), firsts)
