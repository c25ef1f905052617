"""Runs detectors strictly online over labelled series, through the production scoring code.

Our detector (:class:`SentinelDetector`) is the job's own path: ``MetricEvent`` -> ``EntityDetector.step``
(the function the Flink KeyedProcessFunction calls: rolling window, numba features, autoencoder ->
Isolation Forest, calibrated score, threshold, k-of-n alert, range break or stuck entity) -> score
record. Models come from ``training.train.fit``. Online by construction: a detector scores a chunk of
rows in time order, one event at a time, and is (re)fitted only on rows that precede the next chunk.

- Matrix data (SMD): fit on the train split; the entity state is warmed on the train split's tail
  (the minutes just before the test split); every test row is then scored.
- NAB: fit on the probationary period (or on :func:`min_fit_rows` rows if that is longer), then refit
  on past rows at a doubling schedule (2p, 4p, ...) using at most ``max_fit_rows`` of the most recent
  rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from detector.config import Config, load_config
from detector.engine import EntityDetector, featurize
from detector.events import MetricEvent
from detector.windows import EntityState, LateEvent
from training.train import FittedModel, TrainParams, fit

T0_MS = 1_700_000_000_000
MATRIX_STEP_MS = 60_000
"""Matrix-layout rows carry no time: one row per minute (SMD's step)."""


def label_free_threshold(normal_scores: np.ndarray) -> float:
    """The one label-free threshold rule (the model's own, TrainParams): ``threshold`` on the scale
    calibrated on unlabelled training scores (0 at their median, 1 at their ``calibration_quantile``).
    Used for the baselines' alerts as for ours."""
    s = np.asarray(normal_scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if not len(s):
        return float("inf")
    p = TrainParams()
    median, upper = float(np.median(s)), float(np.quantile(s, p.calibration_quantile))
    return median + p.threshold * (upper - median)


@dataclass
class Chunk:
    """Scores of consecutive rows. ``score``: higher = more anomalous, NaN where nothing was scored
    (warm-up); ``alert``: 0/1 at the label-free threshold; ``contrib``: per-metric responsibility."""

    score: np.ndarray
    alert: np.ndarray
    threshold: float
    contrib: np.ndarray | None = None
    onset: np.ndarray | None = None  # 0/1: alerts that open an episode (None: derive from ``alert``)
    rule_inputs: dict[str, np.ndarray] | None = None  # our detector: what its alert rule read, per row


def episode_onsets(alert: np.ndarray, gap: int) -> np.ndarray:
    """Alerts preceded by at least ``gap`` alert-free rows (or none at all): for detectors that only
    give 0/1 alerts, the rule ``EntityDetector`` applies to mark ``episode_start``, less what needs its
    calibrated score (only calm rows, at or below the normal 99th percentile, count towards the gap)
    and its range breaks."""
    out = np.zeros(len(alert), dtype=np.int8)
    last = -(10**9)
    for i in np.flatnonzero(np.asarray(alert) > 0):
        if i - last - 1 >= gap:
            out[i] = 1
        last = int(i)
    return out


class OnlineDetector(Protocol):
    names: tuple[str, ...]
    """The score streams it produces (e.g. the full model and its stages alone)."""

    def fit(self, past: np.ndarray, times_ms: np.ndarray) -> None:
        """Learn from rows that all precede anything scored afterwards."""

    def score(self, rows: np.ndarray, times_ms: np.ndarray) -> dict[str, Chunk]:
        """Score rows in time order, carrying state from earlier calls."""


def eval_config(n_metrics: int, base: Config | None = None) -> Config:
    """The default configuration with metrics ``m0..m{n-1}`` (``value`` for one metric)."""
    cfg = base or load_config(env={})
    cfg.stream.metrics = ["value"] if n_metrics == 1 else [f"m{i}" for i in range(n_metrics)]
    return cfg


def default_params() -> TrainParams:
    """Training parameters for evaluation: the production defaults, accepting short series."""
    return TrainParams(min_rows=60, reuse_graph=True)


def min_fit_rows() -> int:
    """The fewest rows our detector can be fitted on: its window warm-up, then the
    ``TrainParams.min_rows`` feature vectors that training needs."""
    return eval_config(1).window.warmup - 1 + default_params().min_rows


def events(key: str, metrics: list[str], rows: np.ndarray, times_ms: np.ndarray) -> Iterator[MetricEvent]:
    """Wide events (every metric at once), as a producer would send them."""
    for t, row in zip(times_ms.tolist(), rows.tolist(), strict=True):
        yield MetricEvent(key, int(t), dict(zip(metrics, row, strict=True)))


class SentinelDetector:
    """Our detector through ``EntityDetector.step``, plus its stages alone for the ablation baselines:
    ``autoencoder`` (the same autoencoders' calibrated reconstruction score), ``iforest_stage`` (the
    model's own Isolation Forests on [latent, log reconstruction error], calibrated, at the model's
    threshold), each averaged over the model's pairs as the detector averages them, and
    ``iforest_latent`` (an Isolation Forest on the first autoencoder's latent vectors only)."""

    names: tuple[str, ...] = ("sentinel", "autoencoder", "iforest_stage", "iforest_latent")

    def __init__(self, n_metrics: int, key: str = "entity", params: TrainParams | None = None):
        self.cfg = eval_config(n_metrics)
        self.params = params or default_params()
        self.key = key
        self.metrics = list(self.cfg.stream.metrics)
        self.detector: EntityDetector | None = None
        self.state: EntityState | None = None
        self.thresholds: dict[str, float] = {}
        self.latent_forest: Any = None
        self.fitted: FittedModel | None = None
        self.fits = 0

    def fit(self, past: np.ndarray, times_ms: np.ndarray) -> None:
        from sklearn.ensemble import IsolationForest

        x, _, t = featurize(events(self.key, self.metrics, past, times_ms), self.cfg)
        self.fitted = fit(x, self.cfg, self.params, progress=False, warm_start=self.fitted, times_ms=t)
        model = self.fitted.model
        self.detector = EntityDetector(self.cfg, model)
        self.detector.record_offsets = True  # score() rescores in batch with the offsets the stream used
        if self.state is None:
            self.state = self.detector.new_state()
        z = model.reconstruct(x)[0]  # the first pair's latents
        self.thresholds = {
            "sentinel": model.threshold,
            "autoencoder": label_free_threshold(model.score(x).recon),
        }
        p = self.params
        self.latent_forest = IsolationForest(
            n_estimators=p.n_estimators, max_samples=min(p.max_samples, len(z)), random_state=p.seed
        ).fit(z)
        self.thresholds["iforest_latent"] = label_free_threshold(-self.latent_forest.score_samples(z))
        self.fits += 1

    def score(self, rows: np.ndarray, times_ms: np.ndarray) -> dict[str, Chunk]:
        assert self.detector is not None and self.state is not None, "fit first"
        n = len(rows)
        d = len(self.metrics) * (self.detector.model.feature_mean.shape[0] // len(self.metrics))
        feats = np.full((n, d), np.nan)
        alert = np.zeros(n, dtype=np.int8)
        onset = np.zeros(n, dtype=np.int8)
        contrib = np.full((n, len(self.metrics)), np.nan)
        at_once_score = np.full(n, np.nan)  # a range break's or stuck row's record score (NaN elsewhere)
        range_excess = np.zeros(n)  # a range break's excess in tolerances (0 elsewhere)
        stuck = np.zeros(n, dtype=np.int8)  # 1: the entity became stuck on this row
        seasonal = np.full(n, np.nan)  # the seasonal stage's score, where the model has one
        model = self.detector.model
        offsets = np.zeros((n, d)) if self.detector.drift else None  # the drift offset of each row
        blob = self.state.to_bytes()
        for i, ev in enumerate(events(self.key, self.metrics, rows, times_ms)):
            # as the job does per event: state from its stored bytes (float32 arrays), step, store again
            state = EntityState.from_bytes(blob)
            try:
                out = self.detector.step(state, ev, ev.timestamp_ms)
            except LateEvent:  # duplicate or out-of-order timestamp: the job drops it too
                continue
            blob = state.to_bytes()
            for rec in out.scores:
                alert[i] = rec["status"] == "anomaly"
                onset[i] = bool(rec.get("episode_start"))
                if "beyond_range" in rec or "stuck" in rec:
                    at_once_score[i] = rec["score"]
                if "beyond_range" in rec:
                    range_excess[i] = rec["range_excess"]
                stuck[i] = "stuck" in rec
                if "seasonal_score" in rec:
                    seasonal[i] = rec["seasonal_score"]
            for _, f in out.features:
                feats[i] = f
                contrib[i] = state.contrib  # the ranking behind an anomaly's ``contributors``
            if offsets is not None:
                for off in out.drift_offsets:  # one row per event (wide events): the row's offset
                    offsets[i] = off
        self.state = EntityState.from_bytes(blob)
        ok = np.isfinite(feats).all(axis=1)
        score = np.full(n, np.nan)
        model_score = np.full(n, np.nan)  # the model's score (pairs, seasonal stage), before range breaks
        recon = np.full(n, np.nan)
        latent = np.full(n, np.nan)
        forest = np.full(n, np.nan)
        if ok.any():
            # the same function step() called, batched, with the drift offsets it used
            batch = model.score(feats[ok], None if offsets is None else offsets[ok])
            model_score[ok] = np.fmax(batch.score, seasonal[ok])
            score[ok] = np.fmax(model_score[ok], at_once_score[ok])
            recon[ok] = batch.recon
            forest[ok] = batch.iforest
            z, _, _, _ = model.reconstruct(feats[ok])
            assert self.latent_forest is not None
            latent[ok] = -self.latent_forest.score_samples(z)
        th = self.thresholds
        return {
            # what ``decide`` read, so ``sentinel-eval replay`` can apply it again with other settings
            "sentinel": Chunk(
                score,
                alert,
                th["sentinel"],
                contrib,
                onset,
                {"model_score": model_score, "range_excess": range_excess, "stuck": stuck},
            ),
            "autoencoder": Chunk(recon, (recon > th["autoencoder"]).astype(np.int8), th["autoencoder"]),
            "iforest_stage": Chunk(forest, (forest > model.threshold).astype(np.int8), model.threshold),
            "iforest_latent": Chunk(
                latent, (latent > th["iforest_latent"]).astype(np.int8), th["iforest_latent"]
            ),
        }


@dataclass
class SeriesScores:
    """One detector stream over one series: the concatenated chunks."""

    score: np.ndarray
    alert: np.ndarray
    threshold: float
    contrib: np.ndarray | None = None
    row_threshold: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the threshold each row met
    onset: np.ndarray | None = None  # episode starts (as the detector marked them), None if it does not
    rule_inputs: dict[str, np.ndarray] | None = None  # per-row inputs of the alert rule (our detector)
    # the same inputs (and ``threshold``) on the rows scored before the series to warm the state up: the
    # rule's counters carry over from them, so a replay runs the rule over them first
    warm_inputs: dict[str, np.ndarray] | None = None


def _concat(chunks: list[Chunk]) -> SeriesScores:
    contribs = [c.contrib for c in chunks]
    onsets = [c.onset for c in chunks]
    inputs = [c.rule_inputs for c in chunks if c.rule_inputs is not None]
    return SeriesScores(
        score=np.concatenate([c.score for c in chunks]),
        alert=np.concatenate([c.alert for c in chunks]),
        threshold=chunks[-1].threshold,
        contrib=np.concatenate(contribs) if all(c is not None for c in contribs) else None,  # type: ignore[arg-type]
        row_threshold=np.concatenate([np.full(len(c.score), c.threshold) for c in chunks]),
        onset=np.concatenate(onsets) if all(o is not None for o in onsets) else None,  # type: ignore[arg-type]
        rule_inputs=(
            {k: np.concatenate([i[k] for i in inputs]) for k in inputs[0]}
            if inputs and len(inputs) == len(chunks)
            else None
        ),
    )


def run_matrix(
    det: OnlineDetector, train: np.ndarray, test: np.ndarray, warm_rows: int = 500
) -> dict[str, SeriesScores]:
    """Fit on ``train``, warm the state on its last ``warm_rows`` rows, score every ``test`` row."""
    n_tr = len(train)
    times = T0_MS + np.arange(n_tr + len(test), dtype=np.int64) * MATRIX_STEP_MS
    det.fit(train, times[:n_tr])
    w = min(warm_rows, n_tr)
    warm = det.score(train[n_tr - w :], times[n_tr - w : n_tr])
    chunk = det.score(test, times[n_tr:])
    out = {name: _concat([c]) for name, c in chunk.items()}
    for name, s in out.items():
        wc = warm.get(name)
        if wc is not None and wc.rule_inputs is not None:
            s.warm_inputs = dict(wc.rule_inputs, threshold=np.full(len(wc.score), wc.threshold))
    return out


def refit_points(n_rows: int, first: int) -> list[int]:
    """Rows at which the detector is (re)fitted: ``first`` (the probation), then doubling."""
    points, r = [], max(first, 1)
    while r < n_rows:
        points.append(r)
        r *= 2
    return points


def run_series(
    det: OnlineDetector,
    values: np.ndarray,
    times_ms: np.ndarray,
    first_fit: int,
    max_fit_rows: int = 4000,
) -> dict[str, SeriesScores]:
    """Score a series online: fit on ``values[:first_fit]``, score up to the next refit point, refit
    on the (at most ``max_fit_rows``) rows before it, and so on. Rows before ``first_fit`` are
    scored by the first model too (they warm the state; the NAB runner blanks those past the
    probation, which NAB would count). A series of
    ``first_fit`` rows or fewer is not scored at all (NaN scores, no alerts)."""
    values = values.reshape(len(values), -1)
    points = refit_points(len(values), first_fit)
    if not points:  # too short for even one fit: nothing is scored, as for a detector that never alerts
        n = len(values)
        nothing = Chunk(np.full(n, np.nan), np.zeros(n, dtype=np.int8), float("inf"))
        return {name: _concat([nothing]) for name in det.names}
    chunks: dict[str, list[Chunk]] = {}
    start = 0
    for k, r in enumerate(points):
        det.fit(values[max(0, r - max_fit_rows) : r], times_ms[max(0, r - max_fit_rows) : r])
        end = points[k + 1] if k + 1 < len(points) else len(values)
        out = det.score(values[start:end], times_ms[start:end])
        for name, c in out.items():
            chunks.setdefault(name, []).append(c)
        start = end
    return {name: _concat(cs) for name, cs in chunks.items()}
