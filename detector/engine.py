"""The per-entity detection step: ``step(state, event) -> (state, outputs)``.

The Flink KeyedProcessFunction, the evaluation harness and the tests all call this one function, so a
score computed in the stream equals the score computed offline for the same events.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from detector import drift
from detector.alert_rule import decide, is_unusual, range_break_score
from detector.config import Config
from detector.events import MetricEvent
from detector.features import N_PER_METRIC, compute_features
from detector.model import NORMAL_UPPER, DetectionModel
from detector.seasonal import max_score
from detector.stuck import STUCK_SCORE, frozen
from detector.value_range import check_and_extend
from detector.windows import EntityState, LateEvent, Row, observe

MAX_CONTRIBUTORS = 3


def iso_ms(ms: int) -> str:
    """Epoch millis -> ISO-8601 UTC with millisecond precision."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def severity(score: float, threshold: float) -> str:
    """minor / major / critical from how far the score is past the threshold."""
    ratio = score / threshold if threshold > 0 else float("inf")
    if ratio >= 3.0:
        return "critical"
    if ratio >= 1.5:
        return "major"
    return "minor"


@dataclass
class StepOutput:
    """What one event produced: feature vectors to store, scores, anomalies."""

    features: list[tuple[int, np.ndarray]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    drift_offsets: list[np.ndarray] = field(default_factory=list)  # per feature vector, the drift offset
    # it was scored with, when ``EntityDetector.record_offsets`` (a batch rescoring reproduces its scores)


class EntityDetector:
    """Holds the configuration and model; ``step`` is pure in (state, event, now)."""

    def __init__(self, config: Config, model: DetectionModel):
        if list(model.metrics) != list(config.stream.metrics):
            raise ValueError(
                f"model {model.version} was trained on metrics {model.metrics}, "
                f"but stream.metrics is {config.stream.metrics}"
            )
        expected = len(config.stream.metrics) * N_PER_METRIC
        if model.feature_mean.shape[0] != expected:
            raise ValueError(
                f"model {model.version} expects {model.feature_mean.shape[0]} features, "
                f"the stream computes {expected}"
            )
        self.cfg = config
        self.model = model
        self.metrics = list(config.stream.metrics)
        self.drift = drift.applies(model, config.window.drift_halflife_h)
        self.drift_fingerprint = drift.fingerprint(model) if self.drift else 0
        self.record_offsets = False
        """True: each step's ``StepOutput.drift_offsets`` holds the offsets it scored with (the evaluation
        harness rescores in batch with them; the job does not need the copies)."""

    @property
    def season_length(self) -> int:
        """Rows of seasonal history the model needs in each entity's state (0: no seasonal stage)."""
        return 0 if self.model.seasonal is None else self.model.seasonal.history

    def new_state(self) -> EntityState:
        """Empty state for a new entity."""
        return EntityState.new(len(self.metrics), self.cfg.window.long, self.season_length)

    def restore_state(self, data: bytes) -> tuple[EntityState, str | None]:
        """An entity's saved state, or a new one and the reason when it cannot continue under this
        configuration: saved with another number of metrics or another ``window.long`` (a restore after
        such a change), or not decodable. The entity then warms up again instead of failing the job on
        every one of its events."""
        try:
            state = EntityState.from_bytes(data)
        except (ValueError, struct.error) as e:
            return self.new_state(), f"undecodable: {e}"
        length, metrics = state.ring.shape
        if metrics != len(self.metrics) or length != self.cfg.window.long:
            return self.new_state(), (
                f"saved with {metrics} metrics and window.long {length}; now {len(self.metrics)} and "
                f"{self.cfg.window.long}"
            )
        return state, None

    def step(self, state: EntityState, event: MetricEvent, now_ms: int) -> StepOutput:
        """Merge the event, and score every row it completes. Raises LateEvent for stale events."""
        w = self.cfg.window
        out = StepOutput()
        # a state from before a model reload, or from a savepoint: the newest rows that fit are kept (a model
        # without the stage drops them; a later one with it scores again after a period and a window)
        state.resize_season(self.season_length)
        seasonal = self.model.seasonal
        step_ms = seasonal.step_ms if seasonal is not None else 0
        for row in observe(state, event, self.metrics, w.ewma_alpha, w.baseline_alpha, step_ms):
            self._score_row(state, event.key, row, now_ms, out)
        return out

    def _score_row(self, state: EntityState, key: str, row: Row, now_ms: int, out: StepOutput) -> None:
        base = {"key": key, "event_time": iso_ms(row.timestamp_ms), "event_time_ms": row.timestamp_ms}
        excess = check_and_extend(
            row.values,
            self.model.value_range,
            state.seen_low,
            state.seen_high,
            self.cfg.alert.range_tolerance,
        )
        if state.count < self.cfg.window.warmup:
            out.scores.append(
                dict(base, status="warming_up", warmup_remaining=self.cfg.window.warmup - state.count)
            )
            return
        feats = compute_features(state, self.cfg.window.short)
        out.features.append((row.timestamp_ms, feats))
        if self.drift:
            offset = drift.offset_for(state, self.model, self.drift_fingerprint)
            if self.record_offsets:
                out.drift_offsets.append(offset.copy())  # learn() below moves the state's in place
            batch = self.model.score(feats, offset)
        else:
            drift.clear(state)
            batch = self.model.score(feats)
        threshold = self.model.threshold
        model_score = float(batch.score[0])
        seasonal = self.model.seasonal
        seasonal_score = float("nan")
        seasonal_parts = None  # per metric: calibrated seasonal scores, the values they were compared with
        if seasonal is not None:
            seasonal_parts = seasonal.metric_scores(state.season, state.season_pos, state.season_count)
            seasonal_score = max_score(seasonal_parts[0])
        driven_by = "model"
        if seasonal_score > model_score:  # False while NaN (no period, or too little history yet)
            model_score = seasonal_score
            driven_by = "seasonal"
        worst = float(excess.max())
        # a range break: a value beyond every value seen, on a row the model finds unusual (above the normal
        # 99th percentile), alerts at once, scored by its excess if higher: severity sees how far out it is
        # (a model exported without its training range has no range breaks: the entity's own few rows would
        # be the whole range, and ordinary values would break it)
        range_break = worst > 1.0 and model_score > NORMAL_UPPER and self.model.value_range is not None
        score = float(range_break_score(model_score, threshold, worst)) if range_break else model_score
        if range_break:
            driven_by = "range_break"
        if self.drift and batch.residual is not None and not range_break:  # a new extreme is news, not
            # yet normal (a stand-in model without a residual learns nothing)
            drift.learn(state, batch.residual[0], row.timestamp_ms, self.cfg.window.drift_halflife_h)
        # stuck: the row every varying metric is unchanged for longer than any run seen; alerts at once
        runs = self.model.value_runs
        frozen_now = frozen(state.run, state.run_longest, runs, self.cfg.alert.stuck_rows)
        is_stuck = frozen_now and not state.frozen
        state.frozen = int(frozen_now)
        if is_stuck:
            score = max(score, STUCK_SCORE * threshold)
            if not range_break:
                driven_by = "stuck"
        alert_cfg = self.cfg.alert
        a = (
            alert_cfg.contributor_alpha
            if is_unusual(score, threshold)
            else alert_cfg.contributor_alpha_normal
        )
        state.contrib += a * (batch.metric_error[0] - state.contrib)
        is_anomaly, episode_start = decide(state, score, threshold, range_break or is_stuck, alert_cfg)
        record = dict(
            base,
            score=round(score, 6),
            threshold=round(threshold, 6),
            status="anomaly" if is_anomaly else "normal",
            model_version=self.model.version,
        )
        if not math.isnan(seasonal_score):
            record["seasonal_score"] = round(seasonal_score, 6)
        if range_break:
            record["beyond_range"] = [self.metrics[i] for i in np.flatnonzero(excess > 1.0)]
            record["range_excess"] = round(worst, 6)  # how far beyond, in tolerances
        if is_stuck and runs is not None:
            varying = np.isfinite(runs)  # the metrics that varied in training, all unchanged now
            record["stuck"] = [self.metrics[i] for i in np.flatnonzero(varying)]
            record["stuck_rows"] = int(state.run[varying].min())  # rows since the last of them changed
        if is_anomaly:
            record["episode_start"] = episode_start
        out.scores.append(record)
        if is_anomaly:
            out.anomalies.append(
                dict(
                    record,
                    detected_at=iso_ms(now_ms),
                    severity=severity(score, threshold),
                    driven_by=driven_by,
                    contributors=(
                        # the metrics furthest from their cycle, each with its value a period or two ago
                        self._contributors(row, *seasonal_parts, positive_only=True)
                        if driven_by == "seasonal" and seasonal_parts is not None
                        else self._contributors(row, state.contrib, batch.expected_last[0])
                    ),
                    iforest_score=round(float(batch.iforest[0]), 6),
                    reconstruction_score=round(float(batch.recon[0]), 6),
                )
            )

    def _contributors(
        self, row: Row, weight: np.ndarray, expected: np.ndarray, positive_only: bool = False
    ) -> list[dict[str, Any]]:
        """The metrics with the largest ``weight`` (the smoothed reconstruction error, or the seasonal
        scores), their share of the total, the value seen and ``expected``; ``positive_only``: only the
        metrics of weight above 0 count (NaN: none)."""
        if positive_only:
            weight = np.maximum(np.nan_to_num(weight, nan=0.0), 0.0)
        total = float(weight.sum()) or 1.0
        order = np.argsort(-weight)[:MAX_CONTRIBUTORS]
        return [
            {
                "metric": self.metrics[i],
                "value": round(float(row.values[i]), 4),
                "expected": round(float(expected[i]), 4),
                "share": round(float(weight[i]) / total, 4),
            }
            for i in order
            if weight[i] > 0 or not positive_only
        ]


def check_fits(config: Config, model: DetectionModel) -> None:
    """Raise ValueError if ``model`` cannot score this stream (other metrics or feature count): the
    ``ModelWatcher`` check of the job's submission and of each detector."""
    EntityDetector(config, model)


def featurize(events: list[MetricEvent] | Any, config: Config) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Offline twin of the stream's feature path: (features (n, d), keys, event times (n,)).

    Runs the same ``observe`` + ``compute_features`` per entity, keeps rows past warm-up only, and
    skips late events exactly as the job does.
    """
    w = config.window
    metrics = list(config.stream.metrics)
    states: dict[str, EntityState] = {}
    feats: list[np.ndarray] = []
    keys: list[str] = []
    times: list[int] = []
    for ev in events:
        st = states.get(ev.key)
        if st is None:
            st = states[ev.key] = EntityState.new(len(metrics), w.long)
        try:
            rows = observe(st, ev, metrics, w.ewma_alpha, w.baseline_alpha)
        except LateEvent:
            continue
        for row in rows:
            if st.count >= w.warmup:
                feats.append(compute_features(st, w.short))
                keys.append(ev.key)
                times.append(row.timestamp_ms)
    d = len(metrics) * N_PER_METRIC
    x = np.array(feats) if feats else np.zeros((0, d))
    return x, keys, np.array(times, dtype=np.int64)
