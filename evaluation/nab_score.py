"""NAB scoring, written from the published rules (shared/notes/evaluation.md), not from NAB's code.

- Each file has anomaly windows (inclusive row ranges); the first 15% of rows (at most 750) is a
  probationary period whose detections are ignored.
- A detection is a row whose anomaly score is >= the threshold. Inside a window only the earliest
  detection counts and earns ``tp * sigma(y) / sigma(-1)``, ``y`` = relative position in the window
  (-1 at the left edge, 0 at the right edge). A window without a detection costs ``-fn``.
- A detection outside every window costs ``fp * sigma(y)``, ``y`` = distance past the preceding
  window's right edge in window lengths; ``-fp`` when no window precedes it.
- One threshold per profile for the whole corpus: the one maximising the summed raw score.
- Reported = 100 * (S - S_null) / (S_perfect - S_null), S_null = -fn * windows, S_perfect = tp * windows.

>>> p = PROFILES["standard"]
>>> f = FileInput("a", np.array([0.0, 0, 0, 0, 1, 0, 0, 0, 0, 0]), [(4, 6)], probation=0)
>>> round(score_corpus([f], p).normalised, 6)
100.0
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Profile:
    name: str
    tp: float
    fp: float
    fn: float


PROFILES = {
    "standard": Profile("standard", 1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
}
"""The three profiles, as in NAB's config/profiles.json (read it with :func:`load_profiles`)."""


def load_profiles(path: str | Path) -> dict[str, Profile]:
    """Profiles from a NAB ``config/profiles.json``."""
    raw = json.loads(Path(path).read_text())
    out = {}
    for name, spec in raw.items():
        c = spec["CostMatrix"]
        out[name] = Profile(name, float(c["tpWeight"]), float(c["fpWeight"]), float(c["fnWeight"]))
    return out


def sigma(y: float | np.ndarray) -> np.ndarray:
    """NAB's scaled sigmoid: 2 / (1 + e^(5y)) - 1 (1 far before, 0 at y = 0, -1 far after)."""
    return 2.0 / (1.0 + np.exp(5.0 * np.asarray(y, dtype=np.float64))) - 1.0


_SIGMA_LEFT = float(sigma(-1.0))


@dataclass
class FileInput:
    """One file to score: per-row anomaly scores, inclusive window ranges, probation length."""

    name: str
    scores: np.ndarray
    windows: list[tuple[int, int]]
    probation: int


def row_weights(n: int, windows: list[tuple[int, int]], probation: int, p: Profile) -> np.ndarray:
    """Per row: what a detection there is worth. Inside a window its credit if it is the earliest
    detection (positive), outside every window its (negative) false-positive cost; 0 in probation."""
    w = np.zeros(n)
    idx = np.arange(n)
    prev_end, prev_len = -1, 0
    ordered = sorted(windows)
    bounds = [*ordered, (n, n)]
    for s, e in bounds:
        # rows after the previous window (or from the start) up to this window's left edge
        gap = idx[max(prev_end + 1, 0) : min(s, n)]
        if len(gap):
            if prev_end < 0:
                w[gap] = -p.fp
            else:
                w[gap] = p.fp * sigma((gap - prev_end) / prev_len)
        if s >= n:
            break
        inside = idx[s : e + 1]
        span = max(e - s, 1)
        w[inside] = p.tp * sigma((inside - e) / span) / _SIGMA_LEFT
        prev_end, prev_len = e, e - s + 1
    w[: min(probation, n)] = 0.0
    return w


@dataclass
class FileResult:
    name: str
    score: float
    tp: int  # windows detected
    fn: int  # windows missed
    fp: int  # detections outside windows (after probation)
    first_detection: list[int | None] = field(default_factory=list)  # per window, row index or None


def score_file(f: FileInput, threshold: float, p: Profile) -> FileResult:
    """Raw NAB score of one file at a fixed threshold (straightforward, used for reporting and tests)."""
    n = len(f.scores)
    weights = row_weights(n, f.windows, f.probation, p)
    detected = np.asarray(f.scores) >= threshold
    detected[: min(f.probation, n)] = False
    in_window = np.zeros(n, dtype=bool)
    total, tp, fn = 0.0, 0, 0
    firsts: list[int | None] = []
    for s, e in f.windows:
        in_window[s : e + 1] = True
        hits = np.flatnonzero(detected[s : e + 1])
        if len(hits):
            i = s + int(hits[0])
            total += weights[i]
            tp += 1
            firsts.append(i)
        else:
            total -= p.fn
            fn += 1
            firsts.append(None)
    fp_rows = detected & ~in_window
    total += float(weights[fp_rows].sum())
    return FileResult(f.name, total, tp, fn, int(fp_rows.sum()), firsts)


def _threshold_events(f: FileInput, p: Profile) -> tuple[np.ndarray, np.ndarray]:
    """(score value, score change) pairs: lowering the threshold to <= value adds the change."""
    n = len(f.scores)
    scores = np.asarray(f.scores, dtype=np.float64)
    weights = row_weights(n, f.windows, f.probation, p)
    outside = np.ones(n, dtype=bool)
    outside[: min(f.probation, n)] = False
    vals: list[np.ndarray] = []
    deltas: list[np.ndarray] = []
    for s, e in f.windows:
        outside[s : e + 1] = False
        lo = max(s, f.probation)
        if lo > e:
            continue  # window inside probation: always missed
        sw = scores[lo : e + 1]
        prefix = np.maximum.accumulate(sw)
        rec = np.flatnonzero(np.concatenate([[True], prefix[1:] > prefix[:-1]]))
        credit = weights[lo + rec]
        # threshold in (v_{k-1}, v_k]: earliest detection is record k; above v_K: missed (-fn)
        d = np.empty(len(rec))
        d[-1] = credit[-1] + p.fn
        d[:-1] = credit[:-1] - credit[1:]
        vals.append(sw[rec])
        deltas.append(d)
    vals.append(scores[outside])
    deltas.append(weights[outside])
    return np.concatenate(vals), np.concatenate(deltas)


@dataclass
class CorpusResult:
    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    normalised: float
    files: list[FileResult]


def score_corpus(files: list[FileInput], p: Profile) -> CorpusResult:
    """Best single threshold for the whole corpus and the normalised NAB score at it."""
    n_windows = sum(len(f.windows) for f in files)
    base = -p.fn * n_windows
    parts = [_threshold_events(f, p) for f in files]
    vals = np.concatenate([v for v, _ in parts]) if parts else np.zeros(0)
    deltas = np.concatenate([d for _, d in parts]) if parts else np.zeros(0)
    best_t, best = math.inf, base
    if len(vals):
        order = np.argsort(-vals, kind="stable")
        v, c = vals[order], base + np.cumsum(deltas[order])
        last_of_value = np.flatnonzero(np.concatenate([v[1:] != v[:-1], [True]]))
        k = int(np.argmax(c[last_of_value]))
        if c[last_of_value][k] > best:
            best, best_t = float(c[last_of_value][k]), float(v[last_of_value][k])
    results = [score_file(f, best_t, p) for f in files]
    raw = float(sum(r.score for r in results))
    perfect = p.tp * n_windows
    denom = perfect - base
    norm = 100.0 * (raw - base) / denom if denom > 0 else 0.0
    return CorpusResult(p.name, best_t, raw, base, perfect, norm, results)
