"""Numba-compiled inner loops of the per-event path: window features, tree traversal, range breaks.

On arrays this small (30 x 5 windows, 100 trees of depth 8), numpy's per-call overhead dominates;
compiled loops are 10-50x faster. These are the only implementations (the stream, training and
evaluation all call them), tested against plain numpy and scikit-learn in tests/test_inference.py.
"""

from __future__ import annotations

import builtins
import math
import sys

import numpy as np


def _let_numba_find_print() -> None:
    """PyFlink's cluster Python worker replaces ``builtins.print`` with a bound method of its own;
    numba's import registers ``print`` and checks it is reachable as ``<its __module__>.print``,
    which fails there (AttributeError at import). Make the replacement reachable where numba looks."""
    p = builtins.print
    module = sys.modules.get(getattr(p, "__module__", "builtins") or "builtins")
    name = getattr(p, "__name__", "print")
    if module is not None and getattr(module, name, None) is not p:
        setattr(module, name, p)


_let_numba_find_print()

from numba import njit  # noqa: E402  (after the print fix above)


@njit(cache=True)
def _horizon(
    ring: np.ndarray, pos: int, m: int, start: int, count: int
) -> tuple[float, float, float, float, float]:
    """(mean, population std, least-squares slope per step, min, max) of metric ``m`` over the
    chronological rows ``start .. start + count - 1`` of a ring whose oldest row is ``pos``."""
    length = ring.shape[0]
    total = 0.0
    mn = math.inf
    mx = -math.inf
    for i in range(count):
        v = ring[(pos + start + i) % length, m]
        total += v
        mn = min(mn, v)
        mx = max(mx, v)
    mean = total / count
    var = 0.0
    cov = 0.0
    sxx = 0.0
    xm = (count - 1) / 2.0
    for i in range(count):
        d = ring[(pos + start + i) % length, m] - mean
        var += d * d
        cov += (i - xm) * d
        sxx += (i - xm) * (i - xm)
    return mean, math.sqrt(var / count), cov / sxx, mn, mx


N_FEATURES = 14
"""Features per metric written by :func:`window_features` (named in detector.features)."""


@njit(cache=True)
def _ratio(num: float, den: float) -> float:
    """num / den clipped to +-50 (den already has its floor)."""
    return min(max(num / den, -50.0), 50.0)


@njit(cache=True)
def window_features(
    ring: np.ndarray,
    pos: int,
    ewma: np.ndarray,
    base_mean: np.ndarray,
    base_var: np.ndarray,
    short: int,
    out: np.ndarray,
) -> None:
    """Fill ``out`` (n_metrics * N_FEATURES,) from a ring buffer (length, n_metrics) whose oldest row
    is ``pos``: level features (last, horizons' mean/std/min/max/slope, EWMA) and scale-free change
    features (z-scores against the slow baseline and the long window, short-vs-long level shift and
    volatility ratio), the latter comparable across entities whatever their units."""
    length, n_metrics = ring.shape
    for m in range(n_metrics):
        last = ring[(pos - 1) % length, m]
        mean_s, std_s, slope_s, min_s, max_s = _horizon(ring, pos, m, length - short, short)
        mean_l, std_l, slope_l, _, _ = _horizon(ring, pos, m, 0, length)
        z = (last - base_mean[m]) / (math.sqrt(base_var[m]) + 1e-6)
        floor = 1e-3 * abs(mean_l) + 1e-6  # a flat window must not turn rounding noise into huge z
        o = m * N_FEATURES
        out[o + 0] = last
        out[o + 1] = mean_s
        out[o + 2] = std_s
        out[o + 3] = min_s
        out[o + 4] = max_s
        out[o + 5] = slope_s
        out[o + 6] = mean_l
        out[o + 7] = std_l
        out[o + 8] = slope_l
        out[o + 9] = ewma[m]
        out[o + 10] = min(max(z, -50.0), 50.0)
        out[o + 11] = _ratio(last - mean_l, std_l + floor)
        out[o + 12] = _ratio(mean_s - mean_l, std_l + floor)
        out[o + 13] = min(max(math.log((std_s + floor) / (std_l + floor)), -10.0), 10.0)


@njit(cache=True)
def forest_mean_depth(
    x: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    leaf_depth: np.ndarray,
    features_per_tree: np.ndarray,
    out: np.ndarray,
) -> None:
    """Mean isolation path length of each row of ``x`` over all trees (sklearn's float32 inputs)."""
    n_trees = feature.shape[0]
    for r in range(x.shape[0]):
        total = 0.0
        for t in range(n_trees):
            node = 0
            while feature[t, node] >= 0:
                v = np.float64(np.float32(x[r, features_per_tree[t, feature[t, node]]]))
                node = left[t, node] if v <= threshold[t, node] else right[t, node]
            total += leaf_depth[t, node]
        out[r] = total / n_trees


@njit(cache=True)
def _activate(v: float, code: int) -> float:
    if code == 1:
        return max(v, 0.0)
    if code == 2:
        return math.tanh(v)
    if code == 3:
        return 1.0 / (1.0 + math.exp(-v))
    return v


@njit(cache=True)
def dense_forward(x: np.ndarray, weights: np.ndarray, biases: np.ndarray, layout: np.ndarray) -> np.ndarray:
    """One row through a stack of dense layers packed flat: ``layout`` rows are
    (n_in, n_out, weight offset, bias offset, activation code)."""
    h = x
    for k in range(layout.shape[0]):
        n_in, n_out, wo, bo, code = layout[k, 0], layout[k, 1], layout[k, 2], layout[k, 3], layout[k, 4]
        nxt = np.empty(n_out)
        for j in range(n_out):
            acc = biases[bo + j]
            for i in range(n_in):
                acc += h[i] * weights[wo + i * n_out + j]
            nxt[j] = _activate(acc, code)
        h = nxt
    return h


@njit(cache=True)
def reconstruction_stats(
    x: np.ndarray,
    xhat: np.ndarray,
    mean: np.ndarray,
    scale: np.ndarray,
    n_metrics: int,
    metric_cap: np.ndarray,
    log_err: np.ndarray,
    metric_error: np.ndarray,
    expected_last: np.ndarray,
) -> None:
    """Per row: log mean squared error, each metric's share capped at ``metric_cap``; per metric:
    summed squared error (uncapped) and the reconstructed "last" feature in original units
    (features are metric-major, ``per`` = d / n_metrics each)."""
    n, d = x.shape
    per = d // n_metrics
    for r in range(n):
        total = 0.0
        for m in range(n_metrics):
            acc = 0.0
            for k in range(per):
                j = m * per + k
                e = x[r, j] - xhat[r, j]
                acc += e * e
            metric_error[r, m] = acc
            total += min(acc, metric_cap[m])
            j0 = m * per
            expected_last[r, m] = xhat[r, j0] * scale[j0] + mean[j0]
        log_err[r] = math.log(total / d + 1e-9)


_F32_MAX = float(np.finfo(np.float32).max)
_EXCESS_CAP = 1e6  # keeps a record's score finite when the range is vanishingly narrow


@njit(cache=True)
def range_break(
    values: np.ndarray,
    model_low: np.ndarray,
    model_high: np.ndarray,
    seen_low: np.ndarray,
    seen_high: np.ndarray,
    tolerance: float,
    excess: np.ndarray,
) -> None:
    """Per metric: how far ``values`` lie outside the known range (the model's joined with the streamed
    one; NaN bounds are unknown), in units of ``tolerance`` x its width, into ``excess`` (0 inside, for
    an unknown or zero-width range, or when ``tolerance`` is 0); then extend the streamed range by
    ``values``.

    Values are taken at float32 precision, as the entity state stores the range: a value already seen
    must not break a range that was rounded on its way through the state. A value that is NaN or beyond
    float32's range neither breaks nor extends it."""
    for m in range(values.shape[0]):
        excess[m] = 0.0
        v = float(np.float32(values[m]))
        if math.isnan(v) or abs(v) > _F32_MAX:
            continue
        lo = seen_low[m]
        hi = seen_high[m]
        if not math.isnan(model_low[m]) and not lo <= model_low[m]:  # NaN-aware min
            lo = model_low[m]
        if not math.isnan(model_high[m]) and not hi >= model_high[m]:
            hi = model_high[m]
        unit = tolerance * (hi - lo)
        if unit > 0:  # False for NaN bounds, a zero-width range, the rule off, or an underflow
            beyond = max(v - hi, lo - v)
            if beyond > 0:
                excess[m] = min(beyond / unit, _EXCESS_CAP)
        if not v >= seen_low[m]:  # v below, or nothing seen yet (NaN)
            seen_low[m] = v
        if not v <= seen_high[m]:
            seen_high[m] = v


@njit(cache=True)
def seasonal_residuals(
    history: np.ndarray,
    pos: int,
    count: int,
    periods: np.ndarray,
    window: int,
    out: np.ndarray,
    reference: np.ndarray,
) -> None:
    """Per metric into ``out``: the mean of ``|x[t - j] - x[t - j - lag]|`` over the newest ``window`` rows
    of a ring ``history`` (length, n_metrics) whose next write index is ``pos`` and which holds ``count``
    valid rows, for ``lag`` one and two periods, the smaller of the two (one period only while two are
    not yet held); NaN without a period (0) or with fewer than ``period + window`` rows. A lag whose
    rows include a missing one (NaN: a gap in the entity's rows) gives NaN, so only the other lag
    counts. ``reference``: the newest row's value ``lag`` rows earlier, for the lag kept (NaN where
    ``out`` is)."""
    length = history.shape[0]
    newest = (pos - 1) % length
    for m in range(history.shape[1]):
        p = periods[m]
        out[m] = math.nan
        reference[m] = math.nan
        if p <= 0:
            continue
        for k in range(1, 3):
            lag = k * p
            if count < lag + window or lag + window > length:
                break
            total = 0.0
            for j in range(window):
                i = (pos - 1 - j) % length
                total += abs(history[i, m] - history[(i - lag) % length, m])
            r = total / window
            if not math.isnan(r) and (math.isnan(out[m]) or r < out[m]):
                out[m] = r
                reference[m] = history[(newest - lag) % length, m]


@njit(cache=True)
def track_runs(
    run: np.ndarray, longest: np.ndarray, previous: np.ndarray, values: np.ndarray, run_max: float
) -> None:
    """In place, per metric: ``run`` + 1 if ``values`` equals ``previous`` at float32 precision (NaN never
    does), else 1 after raising ``longest`` to the run that ended; runs saturate at ``run_max``."""
    for m in range(run.shape[0]):
        if np.float32(values[m]) == np.float32(previous[m]):
            run[m] = min(run[m] + 1.0, run_max)
        else:
            if run[m] > longest[m]:
                longest[m] = run[m]
            run[m] = 1.0


@njit(cache=True)
def runs_frozen(run: np.ndarray, longest: np.ndarray, model_runs: np.ndarray, min_rows: float) -> bool:
    """Whether every metric with a finite ``model_runs`` has ``run`` above ``min_rows``, its streamed
    ``longest`` and its model run (False if none has)."""
    any_varying = False
    for m in range(run.shape[0]):
        limit = model_runs[m]
        if math.isnan(limit):
            continue
        any_varying = True
        limit = max(limit, longest[m], min_rows)
        if run[m] <= limit:
            return False
    return any_varying
