"""Evaluation runs: every detector over a data set, scored, summarised, and written out.

:func:`evaluate_matrix` (SMD or any matrix-layout directory) and :func:`evaluate_nab` (NAB layout)
return ``{"summary": {...}, "baselines": {...}, "per_entity": {...}}`` and, given ``out_dir``, write
what they scored so other tools can check it.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from detector.config import AlertConfig
from evaluation.baselines import RawIsolationForest, RollingZScore
from evaluation.datasets import DatasetError, MatrixEntity, NabFile, segments
from evaluation.explain import hitrate
from evaluation.harness import (
    OnlineDetector,
    SentinelDetector,
    SeriesScores,
    default_params,
    episode_onsets,
    eval_config,
    min_fit_rows,
    run_matrix,
    run_series,
)
from evaluation.nab_score import PROFILES, FileInput, score_corpus
from evaluation.pointwise import best_f1, best_f1_point_adjusted, event_detection, prf
from evaluation.progress import progress
from evaluation.report import MATRIX_FIELDS, SPREAD_FIELDS
from training.train import TrainParams

OURS = "sentinel"
EPISODE_GAP = AlertConfig().episode_gap
BASELINES = ("iforest_raw", "zscore", "autoencoder", "iforest_stage", "iforest_latent")
SPREAD_SEEDS = (1, 2)
"""Training seeds our detector is refitted with, beside the default, to show how much of a matrix
figure is the seed (``sentinel-eval all|matrix --seeds``)."""
NAB_KEYS = {
    "standard": "standard",
    "reward_low_FP_rate": "reward_low_fp",
    "reward_low_FN_rate": "reward_low_fn",
}


def detectors_for(n_metrics: int, key: str, members: int | None = None) -> list[OnlineDetector]:
    """Our detector (with its stage ablations) and the two outside baselines; ``members``: pairs per
    model instead of the default (``sentinel-eval --members``)."""
    return [SentinelDetector(n_metrics, key, _params(members=members)), RawIsolationForest(), RollingZScore()]


def _params(seed: int | None = None, members: int | None = None) -> TrainParams:
    """The evaluation's training parameters, with a seed or a number of pairs other than the default."""
    p = default_params()
    return dataclasses.replace(
        p, seed=p.seed if seed is None else seed, members=p.members if members is None else members
    )


def _filled(score: np.ndarray) -> np.ndarray:
    """NaN (not scored yet) -> the lowest score seen, so "higher = more anomalous" holds everywhere."""
    finite = score[np.isfinite(score)]
    return np.nan_to_num(score, nan=float(finite.min()) if len(finite) else 0.0)


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def parallel(tasks: list[tuple[Callable[..., Any], tuple]], jobs: int) -> Iterator[Any]:
    """Results of ``fn(*args)`` for each task, in task order; ``jobs`` worker processes (each entity
    is independent: its own detectors, fits and state), or in this process when ``jobs`` is 1."""
    if jobs <= 1:
        for fn, args in tasks:
            yield fn(*args)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(fn, *args) for fn, args in tasks]
        for fut in futures:
            yield fut.result()


def _score_matrix_entity(
    entity: MatrixEntity, make_detectors: Callable[[int, str], list[OnlineDetector]]
) -> dict[str, SeriesScores]:
    out: dict[str, SeriesScores] = {}
    for det in make_detectors(entity.train.shape[1], entity.name):
        out.update(run_matrix(det, entity.train, entity.test))
    return out


def _score_nab_file(
    f: NabFile, make_detectors: Callable[[int, str], list[OnlineDetector]]
) -> dict[str, SeriesScores]:
    out: dict[str, SeriesScores] = {}
    first = nab_first_fit(f)
    for det in make_detectors(1, f.stem):
        out.update(run_series(det, f.values, f.times_ms, first))
    for s in out.values():  # rows the first model learned from that NAB does not ignore: not scored
        s.score[f.probation : first] = np.nan
        s.alert[f.probation : first] = 0
        if s.onset is not None:
            s.onset[f.probation : first] = 0
    return out


def nab_first_fit(f: NabFile) -> int:
    """Rows the first model is fitted on: the probationary period, or more if our detector needs more
    (``min_fit_rows`` rows that it keeps: it drops a row whose time repeats or goes back, as the job
    drops late events). More than the series' length if it never gets them."""
    kept = np.ones(len(f.times_ms), dtype=bool)
    kept[1:] = f.times_ms[1:] > np.maximum.accumulate(f.times_ms)[:-1]
    needed = int(np.searchsorted(np.cumsum(kept), min_fit_rows())) + 1
    return max(f.probation, needed)


def check_training_rows(entities: list[MatrixEntity]) -> None:
    """Refuse, before any fitting, entities whose train split is too short for our detector."""
    need = min_fit_rows()
    complete = {e.name: int(np.isfinite(e.train).all(axis=1).sum()) for e in entities}
    short = [f"{name} ({n})" for name, n in complete.items() if n < need]
    if short:
        raise DatasetError(
            f"train split too short for the detector (at least {need} rows with every metric: its "
            f"{eval_config(1).window.warmup}-row warm-up, then {default_params().min_rows} feature vectors): "
            + ", ".join(short)
        )


# ---------------------------------------------------------------- matrix layout (SMD)


def raw_key(name: str) -> str:
    """An entity's or series' prefix in a raw ``.npz`` (``grp/file.csv`` -> ``grp__file.csv``)."""
    return name.replace("/", "__")


def raw_arrays(key: str, s: SeriesScores) -> dict[str, np.ndarray]:
    """One stream's per-row arrays under ``<key>.<field>``: ``score`` (NaN: not scored), ``alert``,
    ``threshold``, and for our detector ``onset`` (episode starts) and its alert rule's inputs
    (``model_score``, the score before range breaks; ``range_excess``, 0 where none; ``stuck``, 1 where the
    entity became stuck), with ``warm_``
    the same and ``warm_threshold`` for the rows that warmed the state up before the series (matrix)."""
    out = {f"{key}.score": s.score, f"{key}.alert": s.alert, f"{key}.threshold": s.row_threshold}
    if s.onset is not None:
        out[f"{key}.onset"] = s.onset
    for fld, arr in (s.rule_inputs or {}).items():
        out[f"{key}.{fld}"] = arr
    for fld, arr in (s.warm_inputs or {}).items():
        out[f"{key}.warm_{fld}"] = arr
    return out


def save_raw(out_dir: Path, raw: dict[str, dict[str, np.ndarray]]) -> None:
    """``<out_dir>/raw/<detector>.npz``: every stream's per-row arrays (``sentinel-eval replay`` reads
    our detector's)."""
    raw_dir = out_dir / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, arrays in raw.items():
        np.savez_compressed(raw_dir / f"{name}.npz", **arrays)


def matrix_entity_result(entity: MatrixEntity, s: SeriesScores, step_minutes: float) -> dict[str, Any]:
    """Every matrix measure of one detector stream on one entity."""
    score = _filled(s.score)
    head = prf(s.alert, entity.label)
    f1b, _ = best_f1(score, entity.label)
    segs = segments(entity.label)
    ev = event_detection(s.alert, segs)
    leads = ev.lead_steps()
    out: dict[str, Any] = {
        "f1_pointwise": head["f1"],
        "precision": head["precision"],
        "recall": head["recall"],
        "f1_best": f1b,
        "f1_pa": best_f1_point_adjusted(score, entity.label),
        "hitrate_100": None,
        "hitrate_150": None,
        "event_recall": ev.recall,
        "events": len(segs),
        "lead_steps": leads,
        "median_lead_steps": float(np.median(leads)) if leads else None,
        "median_lead_minutes": float(np.median(leads)) * step_minutes if leads else None,
        "threshold": s.threshold,
        "alerts": int(s.alert.sum()),
    }
    if s.contrib is not None and entity.interpretation:
        out["hitrate_100"] = hitrate(s.contrib, entity.interpretation, 1.0)
        out["hitrate_150"] = hitrate(s.contrib, entity.interpretation, 1.5)
    if not segs:  # nothing labelled: every alert is false, and precision, recall and F1 are undefined
        for k in ("f1_pointwise", "precision", "recall", "f1_best", "f1_pa", "event_recall"):
            out[k] = None  # not 0: the means over entities skip it
    return out


def matrix_summary(per_entity: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean over entities of each measure; the median lead over every detected event of every entity."""
    out: dict[str, Any] = {k: _mean([e[k] for e in per_entity.values()]) for k in MATRIX_FIELDS[:-1]}
    leads = [x for e in per_entity.values() for x in e["lead_steps"]]
    out["median_lead_steps"] = float(np.median(leads)) if leads else None
    return out


def evaluate_matrix(
    entities: list[MatrixEntity],
    out_dir: Path | None = None,
    step_minutes: float = 1.0,
    make_detectors: Callable[[int, str], list[OnlineDetector]] | None = None,
    show: bool = True,
    jobs: int = 1,
) -> dict[str, Any]:
    """Every detector on every entity (fit on train, score test online), ``jobs`` entities at once."""
    check_training_rows(entities)
    per: dict[str, dict[str, dict[str, Any]]] = {}
    raw: dict[str, dict[str, np.ndarray]] = {}
    t0 = time.time()
    tasks = [(_score_matrix_entity, (entity, make_detectors or detectors_for)) for entity in entities]
    done = zip(entities, parallel(tasks, jobs), strict=True)
    for entity, streams in progress(done, "matrix", show, total=len(entities), describe=lambda x: x[0].name):
        for name, s in streams.items():
            per.setdefault(name, {})[entity.name] = matrix_entity_result(entity, s, step_minutes)
            if out_dir is not None:
                raw.setdefault(name, {}).update(raw_arrays(raw_key(entity.name), s))
                base = out_dir if name == OURS else out_dir / "baselines" / name
                for sub, arr in (("scores", _filled(s.score)), ("alerts", s.alert.astype(np.int8))):
                    (base / sub).mkdir(parents=True, exist_ok=True)
                    np.save(base / sub / f"{entity.name}.npy", arr)
    if out_dir is not None:
        save_raw(out_dir, raw)
    summary = {name: matrix_summary(v) for name, v in per.items()}
    return {
        "summary": summary.get(OURS),
        "baselines": {b: summary[b] for b in BASELINES if b in summary},
        "per_entity": per,
        "seconds": round(time.time() - t0, 1),
    }


def sentinel_only(seed: int, n_metrics: int, key: str, members: int | None = None) -> list[OnlineDetector]:
    """Our detector alone, trained with ``seed`` (the seed spread refits nothing else)."""
    return [SentinelDetector(n_metrics, key, _params(seed, members))]


def _spread(runs: dict[int, dict[str, Any]], fields: tuple[str, ...]) -> dict[str, Any]:
    """Per field, the value of each seed's run summary, then the mean, min and max over seeds."""
    out: dict[str, Any] = {"seeds": list(runs)}
    for k in fields:
        vals = [r["summary"][k] for r in runs.values()]
        out[k] = vals
        known = [v for v in vals if v is not None]
        if known:
            out[f"{k}_mean"], out[f"{k}_min"], out[f"{k}_max"] = (
                float(np.mean(known)),
                float(min(known)),
                float(max(known)),
            )
    return out


def _refit_with_seeds(
    evaluate: Callable[..., dict[str, Any]],
    items: list[Any],
    base: dict[str, Any],
    seeds: tuple[int, ...],
    show: bool,
    jobs: int,
    members: int | None,
) -> dict[int, dict[str, Any]]:
    """``base`` (the default seed's run) and, per seed, ``evaluate`` rerun with our detector alone
    refitted with that seed; keyed by seed, default first."""
    runs = {default_params().seed: base}
    for seed in seeds:
        make = functools.partial(sentinel_only, seed, members=members)
        runs[seed] = evaluate(items, None, make_detectors=make, show=show, jobs=jobs)
    return runs


def seed_spread(
    entities: list[MatrixEntity],
    base: dict[str, Any],
    seeds: tuple[int, ...] = SPREAD_SEEDS,
    show: bool = True,
    jobs: int = 1,
    members: int | None = None,
) -> dict[str, Any]:
    """Our detector's matrix measures with the default training seed (``base``, the result of
    :func:`evaluate_matrix`) and refitted with each of ``seeds``: per seed, the means over entities of
    :data:`SPREAD_FIELDS` and each entity's point-wise F1; then the mean, min and max over seeds.
    ``members``: pairs per model, as in ``base``'s run (None: the default)."""
    runs = _refit_with_seeds(evaluate_matrix, entities, base, seeds, show, jobs, members)
    out = _spread(runs, SPREAD_FIELDS)
    out["per_entity_f1"] = {
        e.name: [r["per_entity"][OURS][e.name]["f1_pointwise"] for r in runs.values()] for e in entities
    }
    return out


def nab_seed_spread(
    files: list[NabFile],
    base: dict[str, Any],
    seeds: tuple[int, ...] = SPREAD_SEEDS,
    show: bool = True,
    jobs: int = 1,
    members: int | None = None,
) -> dict[str, Any]:
    """The NAB profile scores, windows detected and false positives of our detector with the default
    training seed (``base``, the result of :func:`evaluate_nab`) and refitted with each of ``seeds``."""
    runs = _refit_with_seeds(evaluate_nab, files, base, seeds, show, jobs, members)
    out = _spread(runs, (*NAB_KEYS.values(), "false_positives"))
    out["windows_detected"] = [r["summary"]["windows_detected"] for r in runs.values()]
    return out


# ---------------------------------------------------------------- NAB layout


def nab_anomaly_score(s: SeriesScores, episodes: bool, gap: int = EPISODE_GAP) -> np.ndarray:
    """Scores -> NAB's [0, 1]: ``score / (score + threshold)`` (0.5 at the label-free threshold, 0 for
    scores <= 0). ``episodes``: only the alerts that open an episode (what pages a person) keep their
    score, as marked by the detector (``episode_start``) or, for 0/1 alerts, by the same rule."""
    score = np.nan_to_num(s.score, nan=0.0)
    per_row = s.row_threshold if len(s.row_threshold) == len(score) else np.full(len(score), s.threshold)
    pos = np.maximum(score, 0.0)
    den = pos + np.maximum(per_row, 1e-12)
    u = np.where(pos > 0, pos / den, 0.0)
    if episodes:
        onset = s.onset if s.onset is not None else episode_onsets(s.alert, gap)
        u = np.where(onset > 0, u, 0.0)
    return np.clip(u, 0.0, 1.0)


def write_nab_results(root: Path, detector: str, f: NabFile, score: np.ndarray) -> None:
    """``<root>/<detector>/<group>/<detector>_<file>.csv`` as NAB's scorer reads it."""
    d = root / detector / f.group
    d.mkdir(parents=True, exist_ok=True)
    labels = f.window_labels()
    with (d / f"{detector}_{f.stem}").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value", "anomaly_score", "label"])
        for ts, v, a, lab in zip(
            f.timestamps, f.values.tolist(), score.tolist(), labels.tolist(), strict=True
        ):
            w.writerow([ts, repr(v) if not v.is_integer() else int(v), f"{a:.6f}", int(lab)])


def nab_detector_result(files: list[NabFile], scores: dict[str, np.ndarray]) -> dict[str, Any]:
    """The three profile scores (one corpus threshold each) and, for the standard profile's threshold,
    per-file counts and lead times (first detection minus window start; before the labelled anomaly)."""
    inputs = [FileInput(f.name, scores[f.name], f.windows, f.probation) for f in files]
    out: dict[str, Any] = {}
    per_file: dict[str, Any] = {}
    by_name = {f.name: f for f in files}
    for pname, key in NAB_KEYS.items():
        r = score_corpus(inputs, PROFILES[pname])
        out[key] = r.normalised
        out[f"{key}_threshold"] = r.threshold
        if pname == "standard":
            leads, leads_min, before_label = [], [], []
            for fr in r.files:
                f = by_name[fr.name]
                per_file[fr.name] = {"tp": fr.tp, "fn": fr.fn, "fp": fr.fp, "score": fr.score}
                for (s, e), first in zip(f.windows, fr.first_detection, strict=True):
                    if first is None:
                        continue
                    leads.append(first - s)
                    leads_min.append((f.times_ms[first] - f.times_ms[s]) / 60_000)
                    before_label.append((label_time(f, s, e) - f.times_ms[first]) / 60_000)
            n_windows = sum(len(f.windows) for f in files)
            out["windows_detected"] = f"{len(leads)}/{n_windows}"
            out["false_positives"] = int(sum(fr.fp for fr in r.files))
            out["median_lead_steps"] = float(np.median(leads)) if leads else None
            out["median_lead_minutes"] = float(np.median(leads_min)) if leads_min else None
            out["median_minutes_before_label"] = float(np.median(before_label)) if before_label else None
    return {"summary": out, "per_file": per_file}


def label_time(f: NabFile, start: int, end: int) -> int:
    """The labelled anomaly's time in window rows ``start..end`` (NAB's label file); the window's middle
    row if it holds no label or several (labels mark window centres, but not always to the row)."""
    inside = [t for t in f.anomalies_ms if f.times_ms[start] <= t <= f.times_ms[end]]
    return int(inside[0]) if len(inside) == 1 else int(f.times_ms[(start + end) // 2])


def evaluate_nab(
    files: list[NabFile],
    out_dir: Path | None = None,
    make_detectors: Callable[[int, str], list[OnlineDetector]] | None = None,
    show: bool = True,
    jobs: int = 1,
) -> dict[str, Any]:
    """Every detector on every NAB series, strictly online (fit on probation, refit on the past),
    ``jobs`` series at once. Series too short for a first fit are not scored (no detections; NAB still
    counts their windows as missed) and are listed under ``unscored``."""
    t0 = time.time()
    unscored = [f.name for f in files if len(f.values) <= nab_first_fit(f)]
    if unscored:
        print(
            f"warning: {len(unscored)} series have too few rows with increasing timestamps (at least "
            f"{min_fit_rows()}, then one more to score) to fit and are not scored (no detections): "
            f"{', '.join(unscored)}",
            file=sys.stderr,
        )
    scores: dict[str, dict[str, np.ndarray]] = {}
    raw: dict[str, dict[str, np.ndarray]] = {}
    tasks = [(_score_nab_file, (f, make_detectors or detectors_for)) for f in files]
    done = zip(files, parallel(tasks, jobs), strict=True)
    for f, streams in progress(done, "NAB", show, total=len(files), describe=lambda x: x[0].name):
        for name, s in streams.items():
            # ours: its episode starts (what pages a person); baselines: their continuous scores, as
            # NAB's own baseline detectors report, and beside it with the same episode rule
            u = nab_anomaly_score(s, episodes=name == OURS)
            scores.setdefault(name, {})[f.name] = u
            if name != OURS:
                scores.setdefault(f"{name}+episodes", {})[f.name] = nab_anomaly_score(s, episodes=True)
            if out_dir is not None:
                raw.setdefault(name, {}).update(raw_arrays(raw_key(f.name), s))
                write_nab_results(out_dir, name, f, u)
    if out_dir is not None:  # the raw scores behind the [0, 1] anomaly scores, for analysis and replay
        save_raw(out_dir, raw)
    results = {name: nab_detector_result(files, sc) for name, sc in scores.items()}
    return {
        "summary": results[OURS]["summary"] if OURS in results else None,
        "baselines": {b: results[b]["summary"] for b in BASELINES if b in results},
        "baselines_episodes": {
            b: results[f"{b}+episodes"]["summary"] for b in BASELINES if f"{b}+episodes" in results
        },
        "per_entity": {name: r["per_file"] for name, r in results.items() if "+" not in name},
        "unscored": unscored,
        "seconds": round(time.time() - t0, 1),
    }
