"""The detection model at serving time: scaler -> encoder -> decoder, Isolation Forest on
[latent, log reconstruction error], and a calibration that puts both on one scale; optionally with
peers (the same pair trained with other seeds) whose calibrated scores are averaged with its own.

Score direction: higher = more anomalous, everywhere. ``threshold`` applies to ``score``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from detector.inference import DenseStack, ForestArrays, dense_from_arrays, forest_from_arrays, to_arrays
from detector.kernels import reconstruction_stats
from detector.seasonal import SeasonalModel

_EPS = 1e-9
_PEER = "peer"
"""Array-name prefix of a peer's arrays in :meth:`DetectionModel.to_arrays` (``peer1/encoder.w0``)."""
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
    residual: np.ndarray | None = None  # (n, d) the first pair's standardised residual before the drift
    # offset (given only when an offset was: what :func:`detector.drift.learn` learns from)


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
    value_range: np.ndarray | None = None
    """(2, n_metrics) lowest and highest value of each metric in the training rows (None: unknown, as in
    models exported before it); with the range an entity streams, the base of range breaks
    (:mod:`detector.value_range`)."""
    value_runs: np.ndarray | None = None
    """(n_metrics,) each metric's longest run of identical consecutive values in the training rows, NaN
    for a metric that never changed (None: unknown, as in models exported before it); with the runs an
    entity streams, the base of stuck detection (:mod:`detector.stuck`)."""
    seasonal: SeasonalModel | None = None
    """Seasonal stage (:mod:`detector.seasonal`): each metric's period and residual calibration; the
    engine scores it from the entity's seasonal history and takes the higher of it and :meth:`score`.
    None: no metric had a period in training, the stage is off, or the model predates it."""
    peers: list[DetectionModel] = field(default_factory=list)
    """Further autoencoder -> Isolation Forest pairs fitted on the same rows with other seeds (each
    with its own split, scaler, caps and calibration). :meth:`score` averages every field of their
    score batches with this pair's: one seed alone moved the label-free SMD F1 between 0.28 and 0.38."""

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Standardise raw feature vectors (n, d)."""
        return (features - self.feature_mean) / self.feature_scale

    def reconstruct(
        self, features: np.ndarray, offset: np.ndarray | None = None, residual: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Autoencoder stage: (latent, log reconstruction error, per-metric error, expected last values).

        ``offset`` (d,) or (n, d): a drift offset (:mod:`detector.drift`) added to the reconstruction, so
        the residual it leaves is counted from it; ``residual`` (n, d): filled with the residual before it.
        """
        features = np.atleast_2d(np.asarray(features, dtype=np.float64))
        n, n_m = features.shape[0], len(self.metrics)
        x = (features - self.feature_mean) / self.feature_scale
        z = self.encoder(x)
        xhat = self.decoder(z)
        if residual is not None:
            np.subtract(x, xhat, out=residual)
        if offset is not None:
            xhat = xhat + offset
        log_err = np.empty(n)
        metric_error = np.empty((n, n_m))
        expected = np.empty((n, n_m))
        cap = _no_cap(n_m) if self.metric_cap is None else self.metric_cap
        reconstruction_stats(
            x, xhat, self.feature_mean, self.feature_scale, n_m, cap, log_err, metric_error, expected
        )
        return z, log_err, metric_error, expected

    @property
    def members(self) -> int:
        """How many autoencoder -> Isolation Forest pairs score each vector (1 + peers)."""
        return 1 + len(self.peers)

    def score(self, features: np.ndarray, offset: np.ndarray | None = None) -> ScoreBatch:
        """Score feature vectors (n, d) or one vector (d,): this pair's batch, averaged with its peers'.
        ``offset``: the entity's drift offset ((d,) or (n, d); :mod:`detector.drift`), in this pair's
        standardised units and rescaled to each peer's; the batch then carries this pair's residual before
        it."""
        residual = None
        if offset is not None:
            residual = np.empty((np.atleast_2d(features).shape[0], self.feature_mean.shape[0]))
        own = self.score_pair(features, offset, residual)
        own.residual = residual
        if not self.peers:
            return own
        score, iforest, recon = own.score, own.iforest, own.recon  # fresh arrays: summed into in place
        metric_error, expected = own.metric_error, own.expected_last
        ratios = self._peer_scale_ratios if offset is not None else None
        for i, peer in enumerate(self.peers):  # running sums, not np.mean over lists: the per-event path
            b = peer.score_pair(features, None if ratios is None else offset * ratios[i])
            score += b.score
            iforest += b.iforest
            recon += b.recon
            metric_error += b.metric_error
            expected += b.expected_last
        k = 1.0 / self.members
        return ScoreBatch(score * k, iforest * k, recon * k, metric_error * k, expected * k, residual)

    @functools.cached_property
    def _peer_scale_ratios(self) -> list[np.ndarray]:
        """Per peer, this pair's feature scale over the peer's: a drift offset is in this pair's
        standardised units and each peer has its own scaler (computed once, not per event)."""
        return [self.feature_scale / peer.feature_scale for peer in self.peers]

    def score_pair(
        self, features: np.ndarray, offset: np.ndarray | None = None, residual: np.ndarray | None = None
    ) -> ScoreBatch:
        """This pair's scores alone, without its peers (``offset``, ``residual``: see :meth:`reconstruct`)."""
        z, log_err, metric_error, expected = self.reconstruct(features, offset, residual)
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
        if self.value_range is not None:
            out["value_range"] = self.value_range
        if self.value_runs is not None:
            out["value_runs"] = self.value_runs
        if self.seasonal is not None:
            out.update(self.seasonal.to_arrays())
        out.update(to_arrays("encoder", self.encoder))
        out.update(to_arrays("decoder", self.decoder))
        out.update(to_arrays("forest", self.forest))
        for i, peer in enumerate(self.peers, 1):
            out.update({f"{_PEER}{i}/{k}": v for k, v in peer.to_arrays().items()})
        if self.peers:
            out["peers"] = np.array(len(self.peers))
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], version: str) -> DetectionModel:
        """Inverse of :meth:`to_arrays`."""
        cal = arrays["calibration"]
        metrics = [str(m) for m in arrays["metrics"]]
        metric_cap = arrays.get("metric_cap")  # absent in models exported before the cap
        if metric_cap is not None and metric_cap.shape != (len(metrics),):
            raise ValueError(f"metric_cap has shape {metric_cap.shape}, expected ({len(metrics)},)")
        value_range = arrays.get("value_range")  # absent in models exported before range breaks
        if value_range is not None and value_range.shape != (2, len(metrics)):
            raise ValueError(f"value_range has shape {value_range.shape}, expected (2, {len(metrics)})")
        value_runs = arrays.get("value_runs")  # absent in models exported before stuck detection
        if value_runs is not None and value_runs.shape != (len(metrics),):
            raise ValueError(f"value_runs has shape {value_runs.shape}, expected ({len(metrics)},)")
        seasonal = SeasonalModel.from_arrays(arrays)  # absent in models exported before the seasonal stage
        if seasonal is not None and seasonal.periods.shape != (len(metrics),):
            raise ValueError(
                f"seasonal.periods has shape {seasonal.periods.shape}, expected ({len(metrics)},)"
            )
        peers = []
        for i in range(1, int(arrays.get("peers", 0)) + 1):  # absent in models exported before peers
            prefix = f"{_PEER}{i}/"
            own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            peer = cls.from_arrays(own, version)
            if peer.metrics != metrics or peer.feature_mean.shape != arrays["feature_mean"].shape:
                raise ValueError(f"pair {i + 1} was trained on other metrics or features than the first pair")
            peers.append(peer)
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
            value_range=value_range,
            value_runs=value_runs,
            seasonal=seasonal,
            peers=peers,
        )
