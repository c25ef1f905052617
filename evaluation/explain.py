"""Explanation quality: HitRate@P% of a per-metric ranking against interpretation labels.

For an anomalous segment with ground-truth metrics G, a ranking hits ``|top_k ∩ G| / |G|`` with
``k = floor(P% * |G|)``. As in the OmniAnomaly/InterFusion evaluation, it is computed at every
labelled row of the segment (the ranking the detector gives at that row) and averaged over all rows.

>>> hitrate(np.array([[3.0, 2.0, 1.0, 0.0]]), [(0, 1, [0, 2])], 1.0)
0.5
"""

from __future__ import annotations

import math

import numpy as np


def hitrate(
    contributions: np.ndarray, interpretation: list[tuple[int, int, list[int]]], p: float
) -> float | None:
    """Mean HitRate@``p`` (1.0 = 100%) over the labelled rows; ``contributions`` (T, n_metrics),
    higher = more responsible. Segments are (start, exclusive end, 0-based metric indices).
    Rows without a score (NaN) are skipped; None when nothing could be judged."""
    hits: list[float] = []
    for start, end, truth in interpretation:
        if not truth:
            continue
        k = math.floor(p * len(truth))
        gt = set(truth)
        for t in range(start, min(end, len(contributions))):
            row = contributions[t]
            if not np.isfinite(row).all():
                continue
            top = np.argsort(-row, kind="stable")[:k]
            hits.append(len(gt.intersection(top.tolist())) / len(truth))
    return float(np.mean(hits)) if hits else None
