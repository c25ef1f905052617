"""The detection model at serving time: scaler -> encoder -> decoder, Isolation Forest on
[latent, log reconstruction error], and a calibration that puts both on one scale.

Score direction: higher = more anomalous, everywhere. ``threshold`` applies to ``score``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from detector.inference import DenseStack, ForestArrays, dense_from_arrays, forest_from_arrays, to_arrays
from detector.kernels import reconstruction_stats

_EPS = 1e-9
NORMAL_UPPER = 1.0
"""Calibrated score of the normal ``calibration_quantile`` (the 99th percentile of held-out rows)."""


@functools.cache
def _no_cap(n_metrics: int) -> np.ndarray:
    """An all-infinite cap (read-only, shared): the per-event path allocates nothing for it."""
    cap = np.full(n_metrics, np.inf)
    cap.flags.writeable = False
    return cap


@dataclass
class Calibration:
    """Maps a raw score onto a common scale: 0 at the normal median, 1 at the normal ``quantile``."""

    median: float
    upper: float

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return (raw - self.median) / max(self.upper - self.median, _EPS)


@dataclass
class ScoreBatch:
    """Scores of n feature vectors."""

    score: np.ndarray  # (n,) combined calibrated score, higher = more anomalous
    iforest: np.ndarray  # (n,) calibrated Isolation Forest score
    recon: np.ndarray  # (n,) calibrated reconstruction error
    metric_error: np.ndarray  # (n, n_metrics) squared standardised reconstruction error per metric
    expected_last: np.ndarray  # (n, n_metrics) reconstructed "last value" per metric, original units


@dataclass
class DetectionModel:
    """All arrays needed to score feature vectors; see :mod:`training.train` for how it is fitted."""

    metrics: list[str]
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    encoder: DenseStack
    decoder: DenseStack
    forest: ForestArrays
    cal_iforest: Calibration
    cal_recon: Calibration
    threshold: float
    version: str = "unversioned"
    metric_cap: np.ndarray | None = None
    """(n_metrics,) most squared error one metric adds to the row's reconstruction error (None: no
    cap): a metric that barely moved in training (a near-zero scale) and then moves would otherwise
    outweigh all others for as long as it stays there."""

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Standardise raw feature vectors (n, d)."""
        return (features - self.feature_mean) / self.feature_scale

    def reconstruct(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Autoencoder stage: (latent, log reconstruction error, per-metric error, expected last values)."""
        features = np.atleast_2d(np.asarray(features, dtype=np.float64))
        n, n_m = features.shape[0], len(self.metrics)
        x = (features - self.feature_mean) / self.feature_scale
        z = self.encoder(x)
        xhat = self.decoder(z)
        log_err = np.empty(n)
        metric_error = np.empty((n, n_m))
        expected = np.empty((n, n_m))
        cap = _no_cap(n_m) if self.metric_cap is None else self.metric_cap
        reconstruction_stats(
            x, xhat, self.feature_mean, self.feature_scale, n_m, cap, log_err, metric_error, expected
        )
        return z, log_err, metric_error, expected

    def score(self, features: np.ndarray) -> ScoreBatch:
        """Score feature vectors (n, d) or one vector (d,)."""
        z, log_err, metric_error, expected = self.reconstruct(features)
        iso = self.forest.anomaly_score(np.column_stack([z, log_err]))
        s_if = self.cal_iforest(iso)
        s_re = self.cal_recon(log_err)
        return ScoreBatch(np.maximum(s_if, s_re), s_if, s_re, metric_error, expected)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything as named arrays, for ``np.savez`` (no pickles)."""
        out = {
            "metrics": np.array(self.metrics),
            "feature_mean": self.feature_mean,
            "feature_scale": self.feature_scale,
            "calibration": np.array(
                [self.cal_iforest.median, self.cal_iforest.upper, self.cal_recon.median, self.cal_recon.upper]
            ),
            "threshold": np.array(self.threshold),
        }
        if self.metric_cap is not None:
            out["metric_cap"] = self.metric_cap
        out.update(to_arrays("encoder", self.encoder))
        out.update(to_arrays("decoder", self.decoder))
        out.update(to_arrays("forest", self.forest))
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], version: str) -> DetectionModel:
        """Inverse of :meth:`to_arrays`."""
        cal = arrays["calibration"]
        metrics = [str(m) for m in arrays["metrics"]]
        metric_cap = arrays.get("metric_cap")  # absent in models exported before the cap
        if metric_cap is not None and metric_cap.shape != (len(metrics),):
            raise ValueError(f"metric_cap has shape {metric_cap.shape}, expected ({len(metrics)},)")
        return cls(
            metrics=metrics,
            feature_mean=arrays["feature_mean"],
            feature_scale=arrays["feature_scale"],
            encoder=dense_from_arrays("encoder", arrays),
            decoder=dense_from_arrays("decoder", arrays),
            forest=forest_from_arrays("forest", arrays),
            cal_iforest=Calibration(float(cal[0]), float(cal[1])),
            cal_recon=Calibration(float(cal[2]), float(cal[3])),
            threshold=float(arrays["threshold"]),
            version=version,
            metric_cap=metric_cap,
        )
