"""Seasonal residuals: how far each metric's newest rows are from the same rows one and two periods
earlier.

A metric with a daily (or weekly) cycle can break its cycle while every value stays ordinary: a nightly
peak that does not come, a plateau at the wrong hour. The window features see only the last 30 rows, so
the autoencoder finds such rows normal. This stage keeps two periods of rows and scores the mean absolute
difference between a metric's newest ``window`` rows and the same rows one period before, or two periods
before if that is smaller: an anomaly is unlike both earlier days, while the day after an anomaly is
still like the day before it (with one period only, every anomaly would echo one period later). The
residual is calibrated like the model's other stages (0 at the training median, 1 at the training 99th
percentile).

The period is found in the training rows (the strongest autocorrelation peak after the first zero
crossing); a metric without one has no seasonal score. No Flink or Redis here: the engine calls
:meth:`SeasonalModel.metric_scores` on every row (a compiled loop,
:func:`detector.kernels.seasonal_residuals`), training calls :func:`fit_seasonal`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detector.kernels import seasonal_residuals

_EPS = 1e-9
MAX_PERIOD = 10_080
"""Longest period a model may hold, in rows (a week of one-minute rows): it sets the entity state's size."""


def dominant_period(x: np.ndarray, min_period: int, max_period: int, min_correlation: float = 0.3) -> int:
    """The lag of the strongest autocorrelation peak of ``x`` after its first zero crossing, in
    ``[min_period, max_period]`` and at most half the series; 0 when there is none above
    ``min_correlation`` (no cycle)."""
    return dominant_period_of([x], min_period, max_period, min_correlation)


def dominant_period_of(
    series: Sequence[np.ndarray], min_period: int, max_period: int, min_correlation: float = 0.3
) -> int:
    """:func:`dominant_period` of several series of one metric (entities of a fleet), their
    autocorrelations averaged, weighted by length."""
    longest = max((len(s) for s in series), default=0)
    top = min(max_period, longest // 2)
    if top <= min_period:
        return 0
    acf = np.zeros(top + 1)
    weight = np.zeros(top + 1)  # per lag: the rows of the series long enough to estimate it
    for s in series:
        s = np.asarray(s, dtype=np.float64)
        s = s[np.isfinite(s)]
        s = s - s.mean() if len(s) else s
        n = len(s)
        if n // 2 <= min_period or not np.any(s):
            continue
        spec = np.fft.rfft(s, 2 * max(n, top + 1))
        ac = np.fft.irfft(spec * np.conj(spec))[: top + 1]
        usable = min(n // 2, top) + 1  # lags beyond half this series are not estimated from it
        acf[:usable] += n * ac[:usable] / ac[0]
        weight[:usable] += n
    if not weight[min_period:].any():
        return 0
    acf = np.where(weight > 0, acf / np.maximum(weight, 1.0), 0.0)
    below = np.flatnonzero(acf < 0)
    if not len(below):
        return 0
    start = max(int(below[0]), min_period)
    if start > top:
        return 0
    lag = start + int(np.argmax(acf[start:]))
    return lag if acf[lag] > min_correlation else 0


def residuals(history: np.ndarray, pos: int, count: int, periods: np.ndarray, window: int) -> np.ndarray:
    """Per metric: the smaller, over ``lag`` of one and two periods, of the mean of ``|x[t - j] -
    x[t - j - lag]|`` over the newest ``window`` rows ``j`` of a ring ``history`` (length, n_metrics)
    whose next write index is ``pos``, holding ``count`` valid rows (one period only until two are
    held); NaN for a metric without a period or with fewer than ``period + window`` rows."""
    return residuals_and_reference(history, pos, count, periods, window)[0]


def residuals_and_reference(
    history: np.ndarray, pos: int, count: int, periods: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`residuals`, and per metric the value it compared the newest row with: the newest row's
    value one or two periods earlier, whichever lag gave the smaller residual (NaN where the residual
    is)."""
    out = np.empty(history.shape[1])
    reference = np.empty(history.shape[1])
    seasonal_residuals(history, pos, count, np.asarray(periods, dtype=np.int64), window, out, reference)
    return out, reference


def max_score(scores: np.ndarray) -> float:
    """The highest of per-metric seasonal scores (at least one), ignoring NaN; NaN when every one is."""
    return float(np.fmax.reduce(scores))  # fmax skips NaN; 5x faster than nanmax on a few metrics


def _lagged(x: np.ndarray, lag: int, window: int) -> np.ndarray:
    """Mean of ``|x[t - j] - x[t - j - lag]|`` over ``window`` rows ending at each row (NaN before)."""
    out = np.full(len(x), np.nan)
    if len(x) < lag + window:
        return out
    c = np.cumsum(np.concatenate([[0.0], np.abs(x[lag:] - x[:-lag])]))
    out[lag + window - 1 :] = (c[window:] - c[:-window]) / window
    return out


def series_residuals(x: np.ndarray, period: int, window: int) -> np.ndarray:
    """:func:`residuals` of one metric along a whole series ``x`` (n,), as the stream computes them row
    by row from its start: NaN for the first ``period + window - 1`` rows (the offline twin, for
    calibration and tests)."""
    x = np.asarray(x, dtype=np.float64)
    if period <= 0:
        return np.full(len(x), np.nan)
    one, two = _lagged(x, period, window), _lagged(x, 2 * period, window)
    return np.where(np.isnan(two), one, np.fmin(one, two))


@dataclass
class SeasonalModel:
    """Per metric: its period in rows (0: none), and the training median and ``quantile`` of its
    residual, which put the seasonal score on the model's calibrated scale."""

    periods: np.ndarray  # (n_metrics,) int
    median: np.ndarray  # (n_metrics,)
    upper: np.ndarray  # (n_metrics,)
    window: int
    step_ms: int = 0
    """The training rows' step (ms; :func:`regular_step_ms`): the stream keeps the seasonal history on
    this grid, a missing row's place for each step a gap skips, so a gap does not shift later
    comparisons (0: rows as they come; irregular training rows, or models exported before it)."""

    @property
    def history(self) -> int:
        """Rows of history the entity state must keep (two of the longest period, plus the window)."""
        return 2 * int(self.periods.max()) + self.window

    def metric_scores(self, history: np.ndarray, pos: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Per metric: the newest row's calibrated seasonal score (NaN: no period, or too little history
        yet) and the value it was compared with (:func:`residuals_and_reference`), which the anomaly
        record reports as ``expected`` when this stage raised it."""
        r, reference = residuals_and_reference(history, pos, count, self.periods, self.window)
        return (r - self.median) / np.maximum(self.upper - self.median, _EPS), reference

    def score(self, history: np.ndarray, pos: int, count: int) -> float:
        """Calibrated seasonal score of the newest row: the highest over metrics (NaN: none known yet)."""
        return max_score(self.metric_scores(history, pos, count)[0])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named arrays for ``np.savez``."""
        return {
            "seasonal.periods": self.periods.astype(np.int64),
            "seasonal.calibration": np.stack([self.median, self.upper]),
            "seasonal.window": np.array(self.window),
            "seasonal.step_ms": np.array(self.step_ms, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> SeasonalModel | None:
        """Inverse of :meth:`to_arrays`; None for a model exported without a seasonal stage."""
        if "seasonal.periods" not in arrays:
            return None
        cal = arrays["seasonal.calibration"]
        periods = np.asarray(arrays["seasonal.periods"], dtype=np.int64)
        window = int(arrays["seasonal.window"])
        valid = periods.ndim == 1 and len(periods) and cal.shape == (2, len(periods))
        if not valid or periods.min() < 0 or periods.max() > MAX_PERIOD:
            raise ValueError(
                f"seasonal stage with periods {periods.tolist()} (0 to {MAX_PERIOD}) and calibration of "
                f"shape {cal.shape}: not a model this code wrote"
            )
        if not 1 <= window <= 1000:
            raise ValueError(f"seasonal window {window}: not a model this code wrote")
        step_ms = int(arrays.get("seasonal.step_ms", 0))  # absent in models exported before gap marking
        if step_ms < 0:
            raise ValueError(f"seasonal step {step_ms} ms: not a model this code wrote")
        return cls(
            periods=periods,
            median=np.asarray(cal[0], dtype=np.float64),
            upper=np.asarray(cal[1], dtype=np.float64),
            window=window,
            step_ms=step_ms,
        )


def fit_seasonal(
    series: Sequence[np.ndarray],
    window: int,
    min_period: int,
    max_period: int,
    quantile: float,
    step_ms: int = 0,
) -> SeasonalModel | None:
    """Periods and calibration from training series (each (rows, n_metrics), one per entity, rows in
    time order; ``step_ms`` their usual spacing, 0 if unknown); None when no metric has a period (or
    too few residuals to calibrate one)."""
    n_metrics = series[0].shape[1]
    periods = np.zeros(n_metrics, dtype=np.int64)
    median = np.zeros(n_metrics)
    upper = np.ones(n_metrics)
    for m in range(n_metrics):
        p = dominant_period_of([s[:, m] for s in series], min_period, max_period)
        if p == 0:
            continue
        r = np.concatenate([series_residuals(s[:, m], p, window) for s in series])
        r = r[np.isfinite(r)]
        if len(r) < 50:  # too few to calibrate a tail
            continue
        med, up = float(np.median(r)), float(np.quantile(r, quantile))
        if up - med <= _EPS * (1.0 + abs(med)):  # a flat residual (a perfect cycle): no scale to judge by
            continue
        periods[m], median[m], upper[m] = p, med, up
    if not periods.any():
        return None
    return SeasonalModel(periods=periods, median=median, upper=upper, window=window, step_ms=step_ms)


def regular_step_ms(times_ms: Sequence[np.ndarray], tolerance: float = 0.1, share: float = 0.99) -> int:
    """The median spacing of consecutive rows over several entities' timestamps (ms) when the rows are
    regular (at least ``share`` of the spacings within ``tolerance`` of it), else 0: the seasonal stage
    of rows that come at irregular times counts in rows, as it was trained, and marks no gaps."""
    steps = [np.diff(np.asarray(t, dtype=np.int64)) for t in times_ms if len(t) > 1]
    diffs = np.concatenate(steps) if steps else np.zeros(0, dtype=np.int64)
    diffs = diffs[diffs > 0]
    if not len(diffs):
        return 0
    step = int(np.median(diffs))
    regular = np.abs(diffs - step) <= tolerance * step
    return step if regular.mean() >= share else 0
