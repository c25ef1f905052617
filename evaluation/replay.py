"""A finished run's saved scores through the alert rule again, with other settings, in seconds.

Every run of our detector saves, per row, what its alert rule read (``raw/sentinel.npz``: the model's
score before range breaks, each range break's excess, the rows where the entity became stuck, the
threshold). :func:`replay_stream` applies the
rule the job runs (:func:`detector.alert_rule.decide`) to them with another threshold, k of n or episode
gap, and the run's scorers grade the result, so a sweep of those settings is a command anyone can rerun,
not a script beside the code. With the run's own settings it reproduces the run's alerts and episode
starts exactly (``tests/test_eval_replay.py``). What it cannot replay is anything that changes the scores
themselves (features, models, refits): those need a new run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from detector.alert_rule import Counters, decide, range_break_score
from detector.config import AlertConfig
from detector.stuck import STUCK_SCORE
from evaluation.cli import RULE_FIELDS, artefact_dir
from evaluation.datasets import DatasetError, MatrixEntity, NabFile, load_matrix, load_nab
from evaluation.harness import SeriesScores
from evaluation.runs import (
    OURS,
    matrix_entity_result,
    matrix_summary,
    nab_anomaly_score,
    nab_detector_result,
    raw_key,
)

NAB_SUMMARY = ("standard", "reward_low_fp", "reward_low_fn", "windows_detected", "false_positives")
MATRIX_SUMMARY = ("f1_pointwise", "precision", "recall")


@dataclasses.dataclass(frozen=True)
class ReplaySettings:
    """What a replay changes: ``threshold`` on the calibrated scale (None: each row's saved threshold)
    and the alert rule (:class:`AlertConfig`; its defaults are the run's unless the run changed them)."""

    threshold: float | None = None
    rule: AlertConfig = dataclasses.field(default_factory=AlertConfig)

    def describe(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **{f: getattr(self.rule, f) for f in RULE_FIELDS}}


def replay_stream(
    model_score: np.ndarray,
    range_excess: np.ndarray,
    threshold: np.ndarray,
    rule: AlertConfig,
    stuck: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(score, alert, onset)`` of one stream: each row's record score (a range break's is the larger of
    the model's and the threshold times its excess, a stuck row's at least ``STUCK_SCORE`` x the
    threshold, as in the engine), whether it is an anomaly, and whether it opens an episode. Rows whose
    model score is NaN were not scored and decide nothing. ``stuck``: 1 where the entity became stuck
    (None: nowhere)."""
    breaks = range_excess > 0
    score = model_score.astype(float)
    score[breaks] = range_break_score(model_score[breaks], threshold[breaks], range_excess[breaks])
    stuck_rows = np.zeros(len(score), dtype=bool) if stuck is None else np.asarray(stuck) > 0
    score[stuck_rows] = np.fmax(score[stuck_rows], STUCK_SCORE * threshold[stuck_rows])
    at_once = breaks | stuck_rows
    alert = np.zeros(len(score), dtype=np.int8)
    onset = np.zeros(len(score), dtype=np.int8)
    counters = Counters()
    for i in np.flatnonzero(np.isfinite(model_score)):
        is_anomaly, start = decide(counters, float(score[i]), float(threshold[i]), bool(at_once[i]), rule)
        alert[i], onset[i] = is_anomaly, start
    return score, alert, onset


class RawRun:
    """Our detector's saved per-row arrays of one run's data set (``<artefacts>/raw/sentinel.npz``)."""

    def __init__(self, path: Path):
        if not path.is_file():
            raise DatasetError(
                f"{path}: missing (run sentinel-eval first; runs before replay existed lack it)"
            )
        self.path = path
        with np.load(path) as z:
            self.arrays = {k: z[k] for k in z.files}
        self.keys = sorted({k.rsplit(".", 1)[0] for k in self.arrays})
        for k in self.keys:
            if f"{k}.model_score" in self.arrays:
                continue
            score = self.arrays[f"{k}.score"]
            if np.isfinite(score).any():
                raise DatasetError(f"{path}: no alert-rule inputs for {k} (saved by an older version)")
            # a series too short to fit: never scored, nothing to decide
            self.arrays[f"{k}.model_score"] = score
            self.arrays[f"{k}.range_excess"] = np.zeros(len(score))
            self.arrays[f"{k}.onset"] = np.zeros(len(score), dtype=np.int8)

    def replay(self, name: str, settings: ReplaySettings) -> SeriesScores:
        """One stream again under ``settings``; rows the run left unscored (NaN) stay unscored."""
        key = raw_key(name)
        a = self.arrays
        saved_th = a[f"{key}.threshold"].astype(float)
        th = saved_th if settings.threshold is None else np.full(len(saved_th), settings.threshold)
        model_score, excess, rule_th = a[f"{key}.model_score"], a[f"{key}.range_excess"], th
        stuck = a.get(f"{key}.stuck", np.zeros(len(th), dtype=np.int8))  # none in runs before stuck detection
        w = len(a.get(f"{key}.warm_model_score", ()))
        if w:  # the rule's counters carry over from the warm-up rows, as in the run: decide them first
            warm_th = a[f"{key}.warm_threshold"].astype(float)
            if settings.threshold is not None:
                warm_th = np.full(w, settings.threshold)
            model_score = np.concatenate([a[f"{key}.warm_model_score"], model_score])
            excess = np.concatenate([a[f"{key}.warm_range_excess"], excess])
            stuck = np.concatenate([a.get(f"{key}.warm_stuck", np.zeros(w, dtype=np.int8)), stuck])
            rule_th = np.concatenate([warm_th, th])
        replayed = replay_stream(model_score, excess, rule_th, settings.rule, stuck)
        score, alert, onset = (x[w:] for x in replayed)
        blank = ~np.isfinite(a[f"{key}.score"])  # e.g. NAB rows the first model learned from
        score[blank] = np.nan
        alert[blank] = onset[blank] = 0
        thr = float(th[-1]) if len(th) else float("inf")
        return SeriesScores(score, alert, thr, row_threshold=th, onset=onset)

    def saved(self, name: str) -> SeriesScores:
        """The stream as the run scored it."""
        key = raw_key(name)
        a = self.arrays
        th = a[f"{key}.threshold"].astype(float)
        thr = float(th[-1]) if len(th) else float("inf")
        return SeriesScores(
            a[f"{key}.score"], a[f"{key}.alert"], thr, row_threshold=th, onset=a[f"{key}.onset"]
        )


def replay_nab(files: list[NabFile], raw: RawRun, settings: ReplaySettings) -> dict[str, Any]:
    """NAB's three profiles (and windows, false positives) for the replay and for the run itself."""
    files = [f for f in files if raw_key(f.name) in raw.keys]
    out = {}
    for label, get in (("replay", raw.replay), ("run", lambda n, _s: raw.saved(n))):
        streams = {f.name: get(f.name, settings) for f in files}
        scores = {name: nab_anomaly_score(s, episodes=True) for name, s in streams.items()}
        summary = nab_detector_result(files, scores)["summary"]
        out[label] = {k: summary[k] for k in NAB_SUMMARY}
        out[label]["anomalies"] = int(sum(s.alert.sum() for s in streams.values()))
        out[label]["episode_starts"] = int(
            sum(s.onset.sum() for s in streams.values() if s.onset is not None)
        )
    return out


def replay_matrix(entities: list[MatrixEntity], raw: RawRun, settings: ReplaySettings) -> dict[str, Any]:
    """Point-wise precision, recall and F1 (means over entities) for the replay and for the run."""
    entities = [e for e in entities if raw_key(e.name) in raw.keys]
    out: dict[str, Any] = {}
    for label, get in (("replay", raw.replay), ("run", lambda n, _s: raw.saved(n))):
        per = {e.name: matrix_entity_result(e, get(e.name, settings), 1.0) for e in entities}
        summary = matrix_summary(per)
        out[label] = {k: summary[k] for k in MATRIX_SUMMARY}
        out[label]["per_entity_f1"] = {n: r["f1_pointwise"] for n, r in per.items()}
    return out


def replay_run(run_json: Path, data: Path | None, settings: ReplaySettings) -> dict[str, Any]:
    """Every data set of a ``sentinel-eval all|nab|matrix`` run (``run_json``: its report), replayed."""
    d = artefact_dir(run_json)
    info_path = d / "run.json"
    if not info_path.is_file():
        raise DatasetError(f"{info_path}: missing: {run_json} is not a finished sentinel-eval run")
    info = json.loads(info_path.read_text())
    root = Path(data if data is not None else info["data"])
    command = str(info.get("command", "")).split()
    kind = command[1] if len(command) > 1 else "all"
    parts = {"all": [("nab", d / "nab", root / "nab"), ("smd", d / "smd", root / "smd")]}.get(
        kind, [(kind, d, root)]
    )
    report: dict[str, Any] = {"run": str(run_json), "data": str(root), "settings": settings.describe()}
    for name, art, src in parts:
        raw = RawRun(art / "raw" / f"{OURS}.npz")
        if name == "nab":
            report[name] = replay_nab(load_nab(src), raw, settings)
        else:
            report[name] = replay_matrix(load_matrix(src), raw, settings)
    return report
