"""Fit the autoencoder and the Isolation Forest on normal feature vectors and export a versioned
model directory (reference Keras/joblib files + the numpy serving arrays + a hashed manifest).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from detector.config import Config
from detector.features import feature_names, last_values
from detector.inference import DenseStack, ForestArrays
from detector.model import Calibration, DetectionModel
from detector.model_store import INFERENCE_FILE, model_format, write_manifest
from detector.seasonal import MAX_PERIOD, SeasonalModel, fit_seasonal, regular_step_ms
from detector.stuck import training_runs
from detector.value_range import training_range


@dataclass
class TrainParams:
    latent_dim: int = 8
    hidden: int = 32
    epochs: int = 40
    min_steps: int = 2500
    """Fewest gradient steps per fit: a small training set gets more passes than ``epochs``. Forty
    passes over a few hundred rows (a NAB probationary period) are ~80 steps and leave the
    autoencoder under-trained; large sets (an SMD machine: 17.7k training rows, 2,800 steps) are
    unaffected."""
    batch_size: int = 256
    learning_rate: float = 2e-3
    n_estimators: int = 100
    max_samples: int = 256
    calibration_quantile: float = 0.99
    """Normal quantile mapped to 1.0 on the calibrated scale of each stage."""
    threshold: float = 1.5
    """Anomaly threshold on the calibrated scale (0 = normal median, 1 = normal ``calibration_quantile``
    of held-out rows): a multiple of a robust spread. An extreme quantile (e.g. 0.9995) of the training
    scores is set by the few unlabelled incidents every real history holds and lands far too high."""
    metric_cap: float = 10.0
    """Cap on one metric's squared reconstruction error in the row's error, as a multiple of its
    ``metric_cap_quantile`` on held-out rows (0: no cap). Single-metric models are never capped: the
    cap keeps one metric from outweighing the others, and there the metric is the whole score."""
    metric_cap_quantile: float = 0.999
    """Held-out quantile of each metric's squared reconstruction error that ``metric_cap`` multiplies."""
    validation_fraction: float = 0.25
    seed: int = 42
    members: int = 3
    """Autoencoder -> Isolation Forest pairs in the model, each fitted on the same rows with its own
    seed (``seed``, ``seed + 1000``, ...); their calibrated scores are averaged. One pair's label-free
    SMD F1 moved between 0.28 and 0.38 with the seed alone; the average of three is steadier."""
    seasonal: str = "auto"
    """Seasonal stage (:mod:`detector.seasonal`): ``auto`` fits it for single-metric models only, ``on``
    for every model, ``off`` never. A single metric has no other metric to be judged against, and its
    cycle is the only context it has (NAB's 58 series: standard 71.8 -> 73.2); on SMD's 38-metric
    machines the autoencoder already learns what moves together, and the stage added false alerts
    (point-wise F1 0.387 -> 0.31-0.35, offline). docs/results.md has the measurements."""
    seasonal_max_period: int = 2016
    """Longest period searched, in rows (a week of 5-minute rows; at most half the training rows, and at
    most ``detector.seasonal.MAX_PERIOD``); the entity state keeps two periods and a window of rows."""
    min_rows: int = 200
    """Fewest feature vectors ``fit`` accepts (evaluation on short series lowers it)."""
    reuse_graph: bool = False
    """Reuse one compiled Keras graph per shape (reset to the seed's initial weights) across fits in a
    process: seconds saved per fit when evaluation fits hundreds of small models. The returned
    ``keras_model`` is then shared: export it before the next fit."""


def quiet_tensorflow_logs() -> None:
    """Hide TensorFlow's C++ start-up INFO lines (CPU features, oneDNN; a dozen per ``make eval``
    worker) in this process and the processes it spawns, before TensorFlow loads. Warnings and errors
    still show; a level the user set is kept."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")


STEPS_PER_EXECUTION = 256
"""Gradient steps Keras runs per call into its compiled graph. This model is so small that Keras'
per-step Python dispatch cost more than the step itself (a NAB fit: ~2 ms/step, of which ~0.8 ms
was TensorFlow executing); batching the calls gives the same weights, bit for bit, in less time."""

PEER_SEED_STEP = 1000
"""Seed distance between a model's pairs. Models with nearby base seeds (the seed spread's 42, 1, 2)
share no pair; base seeds 1,000 apart do (42's second pair is 1042's first)."""


@dataclass
class FittedModel:
    """The serving model and the reference objects it was exported from (for the first pair; the
    others' are in ``peers``, in the order of ``model.peers``)."""

    model: DetectionModel
    keras_model: Any
    forest: Any
    summary: dict[str, Any]
    peers: list[FittedModel] = field(default_factory=list)


def _new_autoencoder(d: int, params: TrainParams) -> Any:
    """d -> hidden -> latent -> hidden -> d (tanh hidden layers), compiled with Adam on MSE."""
    import keras

    inp = keras.Input(shape=(d,))
    h = keras.layers.Dense(params.hidden, activation="tanh", name="enc_hidden")(inp)
    z = keras.layers.Dense(params.latent_dim, activation="linear", name="latent")(h)
    h2 = keras.layers.Dense(params.hidden, activation="tanh", name="dec_hidden")(z)
    out = keras.layers.Dense(d, activation="linear", name="reconstruction")(h2)
    ae = keras.Model(inp, out, name="autoencoder")
    ae.compile(
        optimizer=keras.optimizers.Adam(params.learning_rate),
        loss="mse",
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return ae


_GRAPHS: dict[tuple, tuple[Any, list[np.ndarray], list[np.ndarray]]] = {}


def _cached_autoencoder(d: int, params: TrainParams) -> Any:
    """A compiled autoencoder reset to exactly the initial weights and optimizer state a fresh one has
    for this seed: the same fit as :func:`_new_autoencoder` without re-tracing the graph."""
    key = (d, params.hidden, params.latent_dim, params.learning_rate, params.seed)
    if key not in _GRAPHS:
        ae = _new_autoencoder(d, params)
        ae.optimizer.build(ae.trainable_variables)
        _GRAPHS[key] = (
            ae,
            [np.array(w) for w in ae.get_weights()],
            [np.array(v.numpy()) for v in ae.optimizer.variables],
        )
        return ae
    ae, weights, opt_state = _GRAPHS[key]
    ae.set_weights(weights)
    for v, value in zip(ae.optimizer.variables, opt_state, strict=True):
        v.assign(value)
    return ae


def metric_caps(metric_error: np.ndarray, params: TrainParams) -> np.ndarray:
    """Per-metric caps from held-out per-metric errors (n, n_metrics): ``metric_cap`` x each metric's
    ``metric_cap_quantile``, and never below the median metric's cap, so that a metric flat in
    training (held-out error ~0) is bounded like a typical metric instead of silenced."""
    caps = params.metric_cap * np.quantile(metric_error, params.metric_cap_quantile, axis=0)
    return np.maximum(caps, float(np.median(caps))) + 1e-9


def epochs_for(n_rows: int, params: TrainParams) -> int:
    """``params.epochs``, raised until the run makes at least ``params.min_steps`` gradient steps."""
    batches = max(1, -(-n_rows // params.batch_size))
    return max(params.epochs, -(-params.min_steps // batches))


def fit(
    x: np.ndarray,
    config: Config,
    params: TrainParams,
    progress: bool = True,
    warm_start: FittedModel | None = None,
    keys: Sequence[str] | None = None,
    times_ms: np.ndarray | None = None,
) -> FittedModel:
    """Fit ``params.members`` pairs on normal feature vectors ``x`` (n, d); deterministic for
    ``params.seed``. ``keys``: the entity of each row (rows in time order per entity), for the
    seasonal stage's periods; None: every row is one entity's. ``times_ms``: the rows' event times,
    for the seasonal stage's usual row spacing (None: gaps in the stream are not marked).

    ``warm_start``: continue training that model's autoencoders on ``x`` (continual adaptation on
    recent data; also skips Keras' graph tracing, seconds per new model) instead of fresh ones; the
    scaler, Isolation Forest, calibration and threshold are always refitted on ``x``.
    """
    if params.members < 1:
        raise ValueError("members must be at least 1")
    first = _fit_pair(x, config, params, progress, warm_start)
    first.model.value_range = training_range(x, len(config.stream.metrics))
    first.model.value_runs = training_runs(
        [last_values(x[idx], len(config.stream.metrics)) for idx in entity_rows(len(x), keys)]
    )
    first.model.seasonal = seasonal_stage(x, config, params, keys, times_ms)
    if first.model.seasonal is not None:
        first.summary["seasonal_periods"] = first.model.seasonal.periods.tolist()
        first.summary["seasonal_step_ms"] = first.model.seasonal.step_ms
    for i in range(1, params.members):
        seed = params.seed + i * PEER_SEED_STEP
        prior = warm_start.peers[i - 1] if warm_start is not None and i <= len(warm_start.peers) else None
        first.peers.append(_fit_pair(x, config, replace(params, seed=seed), progress, prior))
    if first.peers:
        first.model.peers = [p.model for p in first.peers]
        # the top-level fields describe the first pair; "pairs" has every pair's, in order
        first.summary["pairs"] = [dict(f.summary) for f in (first, *first.peers)]
        first.summary["members"] = params.members
        first.summary["autoencoder_seconds"] = round(
            sum(f.summary["autoencoder_seconds"] for f in (first, *first.peers)), 1
        )
    return first


def entity_rows(n_rows: int, keys: Sequence[str] | None) -> list[np.ndarray]:
    """Row indices per entity, in row order (``keys``: each row's entity; None: one entity)."""
    if keys is None:
        return [np.arange(n_rows)]
    order: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        order.setdefault(k, []).append(i)
    return [np.asarray(idx) for idx in order.values()]


def seasonal_stage(
    x: np.ndarray,
    config: Config,
    params: TrainParams,
    keys: Sequence[str] | None = None,
    times_ms: np.ndarray | None = None,
) -> SeasonalModel | None:
    """The seasonal stage for feature rows ``x`` (their ``last`` values, per entity in row order; their
    event times ``times_ms`` give the rows' usual spacing), or None when ``params.seasonal`` leaves it
    out or no metric has a period."""
    n_metrics = len(config.stream.metrics)
    if params.seasonal not in ("auto", "on", "off"):
        raise ValueError(f"seasonal must be auto, on or off, not {params.seasonal!r}")
    if params.seasonal == "off" or (params.seasonal == "auto" and n_metrics > 1):
        return None
    if not 0 < params.seasonal_max_period <= MAX_PERIOD:
        raise ValueError(f"seasonal_max_period must be between 1 and {MAX_PERIOD} rows")
    values = last_values(x, n_metrics)
    groups = entity_rows(len(x), keys)
    step = 0 if times_ms is None else regular_step_ms([np.asarray(times_ms)[idx] for idx in groups])
    short = config.window.short
    return fit_seasonal(
        [values[idx] for idx in groups],
        short,
        2 * short,
        params.seasonal_max_period,
        params.calibration_quantile,
        step,
    )


def _fit_pair(
    x: np.ndarray,
    config: Config,
    params: TrainParams,
    progress: bool,
    warm_start: FittedModel | None,
) -> FittedModel:
    """One autoencoder -> Isolation Forest pair, calibrated on its held-out rows; ``params.seed``."""
    import keras
    import tensorflow as tf
    from sklearn.ensemble import IsolationForest

    if x.ndim != 2 or len(x) < params.min_rows:
        raise ValueError(f"need at least {params.min_rows} feature vectors to train, got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("training features contain NaN or infinity")
    if params.metric_cap < 0 or not 0.0 < params.metric_cap_quantile <= 1.0:
        raise ValueError("metric_cap must be >= 0 (0: off) and metric_cap_quantile in (0, 1]")
    keras.utils.set_random_seed(params.seed)
    tf.config.experimental.enable_op_determinism()
    n_val = int(len(x) * params.validation_fraction)
    idx = np.random.default_rng(params.seed).permutation(len(x))
    x_train, x_val = x[idx[n_val:]], x[idx[:n_val]]

    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0)
    scale = np.where(scale < 1e-3 * (np.abs(mean) + 1.0), 1e-3 * (np.abs(mean) + 1.0), scale)
    xs = (x_train - mean) / scale
    d = x.shape[1]

    if warm_start is not None and warm_start.keras_model.input_shape[-1] == d:
        ae = warm_start.keras_model
    elif params.reuse_graph:
        ae = _cached_autoencoder(d, params)
    else:
        ae = _new_autoencoder(d, params)
    t0 = time.time()
    # One pass over a dataset repeated ``epochs`` times (reshuffled each time): the same gradient steps
    # as ``epochs`` Keras epochs without their per-epoch overhead (~0.1-0.5 s each on small data).
    xs32 = xs.astype(np.float32)
    epochs = epochs_for(len(xs32), params)
    ds = (
        tf.data.Dataset.from_tensor_slices((xs32, xs32))
        .shuffle(len(xs32), seed=params.seed, reshuffle_each_iteration=True)
        .batch(params.batch_size)
        .repeat(epochs)
        .prefetch(2)
    )
    hist = ae.fit(ds, epochs=1, shuffle=False, verbose=2 if progress else 0)  # ds is shuffled
    ae_seconds = time.time() - t0

    def stack(names: list[str]) -> DenseStack:
        layers = [ae.get_layer(n) for n in names]
        return DenseStack(
            weights=[np.asarray(layer.kernel.numpy(), dtype=np.float64) for layer in layers],
            biases=[np.asarray(layer.bias.numpy(), dtype=np.float64) for layer in layers],
            activations=[layer.activation.__name__ for layer in layers],
        )

    encoder, decoder = stack(["enc_hidden", "latent"]), stack(["dec_hidden", "reconstruction"])
    model = DetectionModel(
        metrics=list(config.stream.metrics),
        feature_mean=mean,
        feature_scale=scale,
        encoder=encoder,
        decoder=decoder,
        forest=None,  # type: ignore[arg-type]
        cal_iforest=Calibration(0.0, 1.0),
        cal_recon=Calibration(0.0, 1.0),
        threshold=1.0,
    )
    xv = (x_val - mean) / scale
    val_loss = float(np.mean((decoder(encoder(xv)) - xv) ** 2)) if len(xv) else 0.0
    if params.metric_cap > 0 and len(model.metrics) > 1:
        model.metric_cap = metric_caps(model.reconstruct(x_val)[2], params)
    z_train, logerr_train, _, _ = model.reconstruct(x_train)
    forest = IsolationForest(
        n_estimators=params.n_estimators,
        max_samples=min(params.max_samples, len(x_train)),
        random_state=params.seed,
    ).fit(np.column_stack([z_train, logerr_train]))
    model.forest = ForestArrays.from_sklearn(forest)

    parts = model.score(x_val)
    q = params.calibration_quantile
    iso_val, logerr_val = parts.iforest, parts.recon  # uncalibrated yet (identity calibration)
    model.cal_iforest = Calibration(float(np.median(iso_val)), float(np.quantile(iso_val, q)))
    model.cal_recon = Calibration(float(np.median(logerr_val)), float(np.quantile(logerr_val, q)))
    val_scores = model.score(x_val).score
    model.threshold = float(params.threshold)
    summary = {
        "rows": len(x),
        "train_rows": len(x_train),
        "validation_rows": len(x_val),
        "epochs": epochs,
        "autoencoder_seconds": round(ae_seconds, 1),
        "final_loss": float(hist.history["loss"][-1]),
        "final_val_loss": val_loss,
        "validation_above_threshold": float((val_scores > model.threshold).mean()),
    }
    return FittedModel(model, ae, forest, summary)


def export(
    fitted: FittedModel,
    root: str | Path,
    config: Config,
    params: TrainParams,
    data_summary: dict[str, Any],
) -> Path:
    """Write ``<root>/<version>/`` with the model files and manifest; returns the directory."""
    import joblib
    import keras
    import sklearn
    import tensorflow as tf

    root = Path(root)
    tmp = root / f".tmp-{time.time_ns()}"
    tmp.mkdir(parents=True)
    arrays = fitted.model.to_arrays()
    np.savez(tmp / INFERENCE_FILE, **arrays)
    fitted.keras_model.save(tmp / "autoencoder.keras")
    joblib.dump(fitted.forest, tmp / "iforest.joblib")
    for i, peer in enumerate(fitted.peers, 1):
        peer.keras_model.save(tmp / f"autoencoder_peer{i}.keras")
        joblib.dump(peer.forest, tmp / f"iforest_peer{i}.joblib")
    import hashlib

    digest = hashlib.sha256((tmp / INFERENCE_FILE).read_bytes()).hexdigest()[:10]
    version = time.strftime("v%Y%m%d-%H%M%S-", time.gmtime()) + digest
    info = {
        "version": version,
        "format": model_format(fitted.model.seasonal is not None),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "feature_spec": {
            "metrics": list(config.stream.metrics),
            "entity_labels": list(config.stream.entity_labels),
            "window": asdict(config.window),
            "feature_names": feature_names(list(config.stream.metrics)),
        },
        "threshold": fitted.model.threshold,
        "score": "mean over the pairs of max(calibrated isolation-forest, calibrated log reconstruction"
        " error), or the calibrated seasonal residual if higher (models with a seasonal stage);"
        " higher = worse",
        "members": fitted.model.members,
        "train_params": asdict(params),
        "training_data": dict(data_summary, **fitted.summary),
        "libraries": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "scikit-learn": sklearn.__version__,
            "joblib": joblib.__version__,
        },
    }
    write_manifest(tmp, info)
    final = root / version
    tmp.rename(final)
    return final
