"""The one typed configuration object.

Defaults live in the dataclasses below; a JSON file, environment variables (``SENTINEL_<SECTION>__<FIELD>``)
and CLI ``--set section.field=value`` overrides map onto them, in that order. Nothing else in the
project reads ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "SENTINEL_"


@dataclass
class KafkaConfig:
    bootstrap_servers: str = "127.0.0.1:9092"
    """Kafka bootstrap servers, comma separated."""
    input_topic: str = "system-metrics"
    """Topic of JSON metric events (wide or narrow shape)."""
    anomalies_topic: str = "anomalies"
    """Topic the job writes anomaly records to (key = entity)."""
    scores_topic: str = "anomaly-scores"
    """Topic for every score (dashboards); empty string disables it."""
    dlq_topic: str = "metrics-dlq"
    """Dead-letter topic: malformed input with the reason."""
    late_topic: str = "metrics-late"
    """Side output for events older than their entity's newest row."""
    progress_topic: str = "sentinel-progress"
    """Per-subtask progress markers (used when job.progress_every > 0, e.g. by the benchmark)."""
    group_id: str = "sentinel-detector"
    """Consumer group of the job's Kafka source."""
    fetch_max_wait_ms: int = 10
    """Longest time the job's source waits for a fetch to fill (Kafka default 500 ms: latency)."""
    starting_offsets: str = "earliest"
    """Where a fresh consumer group starts: earliest or latest."""
    security_protocol: str = "PLAINTEXT"
    """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
    sasl_mechanism: str = ""
    """e.g. PLAIN or SCRAM-SHA-512 when SASL is used."""
    sasl_username: str = ""
    sasl_password: str = ""
    """Secret: never logged. Prefer the env var or sasl_password_file to a CLI flag."""
    sasl_password_file: str = ""
    """File holding the SASL password (read at start; overrides sasl_password)."""
    ssl_ca_file: str = ""
    """PEM file of the CA certificates that sign the brokers' certificates (SSL / SASL_SSL)."""
    ssl_keystore_file: str = ""
    """PEM file with the client's private key and certificate chain (mutual TLS)."""
    ssl_key_password: str = ""
    """Secret: password of the private key in ssl_keystore_file, if it is encrypted."""
    delivery_guarantee: str = "exactly_once"
    """exactly_once (Kafka transactions committed on checkpoints; read with isolation.level=
    read_committed) or at_least_once, for the anomalies, dead-letter and late topics."""
    scores_delivery_guarantee: str = "at_least_once"
    """The same for the high-volume scores and progress topics (dashboards tolerate a replayed score;
    exactly_once would delay every score until the next checkpoint)."""
    transaction_timeout_ms: int = 600_000
    """Kafka transaction timeout of the exactly-once sinks; must be <= the broker's
    transaction.max.timeout.ms and longer than the longest expected restart."""
    transactional_id_prefix: str = "sentinel"
    """Prefix of the sinks' transactional ids; must be unique per job on a cluster."""
    sink_linger_ms: int = 5
    """How long the sinks' producers wait to fill a batch (Kafka's linger.ms): latency vs batches."""
    max_request_bytes: int = 4 * 1024 * 1024
    """Largest record the sinks write (the dead-letter topic keeps payloads of up to 1 MB+)."""


@dataclass
class RedisConfig:
    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    username: str = ""
    """Redis ACL user (Redis 6+); empty uses the default user."""
    password: str = ""
    """Secret: never logged. Prefer the env var or password_file to a CLI flag."""
    password_file: str = ""
    """File holding the Redis password (read at start; overrides password)."""
    tls: bool = False
    tls_ca_file: str = ""
    """PEM CA bundle that signs the Redis server certificate (with tls)."""
    enabled: bool = True
    """Write features to Redis; detection never depends on it."""
    ttl_s: int = 3600
    """TTL of each entity's latest feature vector."""
    history_maxlen: int = 200_000
    """Approximate MAXLEN of the feature-history stream that training reads."""
    batch_size: int = 256
    """Feature writes per pipelined round trip."""
    flush_interval_ms: int = 200
    """Longest time a buffered write waits before it is flushed."""
    max_buffer: int = 50_000
    """Writes buffered during an outage; beyond this the oldest are dropped and counted."""
    socket_timeout_s: float = 0.5


@dataclass
class StreamConfig:
    entity_labels: list[str] = field(default_factory=lambda: ["host", "service"])
    """Label fields that identify one monitored entity; joined with '/' to form the key."""
    metrics: list[str] = field(
        default_factory=lambda: [
            "cpu_usage",
            "memory_usage",
            "response_time_ms",
            "disk_io_mb",
            "network_io_mb",
        ]
    )
    """Metric names, in feature order."""
    max_out_of_orderness_ms: int = 5_000
    """Bounded out-of-orderness of the event-time watermark."""
    idle_timeout_ms: int = 10_000
    """A source split idle this long stops holding the watermark back."""


@dataclass
class WindowConfig:
    short: int = 6
    """Steps in the short horizon (spikes)."""
    long: int = 30
    """Steps in the long horizon (trends, slopes); also the ring-buffer length."""
    ewma_alpha: float = 0.3
    baseline_alpha: float = 0.02
    """EW weight of the slow per-metric baseline (mean/variance)."""
    warmup: int = 30
    """Observations an entity needs before it is scored (until then: warming_up)."""
    drift_halflife_h: float = 168.0
    """Half-life, in hours of event time, of each entity's drift offset (:mod:`detector.drift`): what a
    multi-metric entity keeps doing for about this long becomes its normal. 0: off."""


@dataclass
class AlertConfig:
    k: int = 4
    """An anomaly is raised when k of the last n scores are above threshold (default 4 of 4: a deviation
    that persists; a new extreme alerts at once through ``range_tolerance``)."""
    n: int = 4
    episode_gap: int = 30
    """An anomaly opens a new episode (``episode_start: true`` in its record) when the entity had
    ``episode_gap`` calm rows (scored, at or below both the threshold and the normal 99th percentile)
    since its last anomaly, or ``episode_max_gap`` scored rows of any kind, or when it is a range break
    and the entity had no range break in ``episode_gap`` rows (a new extreme during an ongoing episode
    is news of its own); what pages a person is the episode start. Rows scoring between normal and the
    threshold keep an episode open."""
    episode_max_gap: int = 120
    """Scored rows without an anomaly, calm or not, after which an anomaly opens a new episode anyway:
    an entity whose normal scores sit above the normal 99th percentile (it drifted since training) is
    never calm, and would otherwise never page again (at most 255: the counter is one byte)."""
    range_tolerance: float = 0.05
    """A value beyond every value the entity and its model have seen, by more than this share of that
    range, on a row the model finds unusual (score above the normal 99th percentile), is an anomaly at
    once, without k of n (a range break; Numenta's NAB detectors use the same 5% for their "spatial
    anomaly"). Its score is the larger of the model's and the threshold times the excess in units of
    this tolerance. 0 disables."""
    stuck_rows: int = 12
    """An entity whose every metric that changed in training has not changed for more rows than this and
    than any run of one value the model saw in training or the entity streamed is stuck: an anomaly at
    once, once per stuck spell, scored ``STUCK_SCORE`` x the threshold unless the model scores it higher
    (:mod:`detector.stuck`). Metrics constant throughout training are left out. 0 disables."""
    contributor_alpha: float = 0.1
    """EW weight of an unusual row's per-metric reconstruction error in the ``contributors`` ranking
    (a row scoring above the normal 99th percentile, calibrated score > 1, or above the threshold): an
    anomaly is explained by the metrics that have been off over its recent unusual rows, not only by the
    noisiest metric of its own row (1.0 = this row only)."""
    contributor_alpha_normal: float = 0.01
    """The same weight for the other rows: ordinary noise barely moves the ranking."""
    cooldown_s: float = 120.0
    """Per-entity quiet time after an alert (alert consumer)."""
    webhook_url: str = ""
    """Slack-compatible webhook; empty disables posting."""
    consumer_group: str = "sentinel-alerts"
    """Kafka consumer group of ``sentinel-alerts``: it commits what it has handled, so a restart goes on
    from there instead of alerting again on every anomaly still in the topic."""


@dataclass
class JobConfig:
    model_dir: str = "models/current"
    """Versioned model directory (manifest.json + files) or a parent holding versions."""
    parallelism: int = 1
    execution_mode: str = "process"
    """PyFlink Python execution mode: process or thread."""
    checkpoint_interval_ms: int = 2_000
    """Exactly-once checkpoints; exactly-once outputs become visible when a checkpoint completes, so
    this bounds the extra latency of the anomalies topic."""
    bundle_time_ms: int = 10
    """Longest time the Python worker holds a bundle of records (PyFlink default 1000 ms: latency)."""
    bundle_size: int = 1000
    """Records per bundle between the JVM and the Python worker."""
    state_buckets: int = 128
    """Events are keyed by a stable hash bucket of the entity, and each entity's state is an entry of
    a MapState in its bucket: PyFlink writes a ValueState back with two JVM round trips per modified
    key per bundle, MapState writes go in batches (3.4x faster with thousands of entities)."""
    state_cache_size: int = 200_000
    """Keyed-state entries cached in the Python worker (PyFlink default 1000: with more entities than
    that, every state access misses and round-trips to the JVM, ~15x slower)."""
    buffer_timeout_ms: int = 10
    """Network buffer flush timeout between operators (Flink default 100 ms)."""
    jars: list[str] = field(default_factory=list)
    """Connector jars (file paths); default: the ones scripts/bootstrap.sh fetched into .cache/jars."""
    emit_scores: bool = True
    """Also write every score to kafka.scores_topic."""
    progress_every: int = 0
    """Emit a progress marker (subtask, count, wall time) every N events; 0 disables."""
    model_reload_interval_ms: int = 30_000
    """How often each detector checks model_dir for a newer verified version to swap in without a
    restart (a version that fails verification is logged and skipped; the current one stays); 0 off."""


@dataclass
class Config:
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    alert: AlertConfig = field(default_factory=AlertConfig)
    job: JobConfig = field(default_factory=JobConfig)

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        """Plain dict (JSON-able); secrets replaced by '***' unless ``redact`` is False."""
        d = dataclasses.asdict(self)
        if redact:
            for section, name in SECRET_FIELDS:
                if d[section][name]:
                    d[section][name] = "***"
        return d

    def to_json(self) -> str:
        """Full JSON (secrets included) for handing the config to a job process."""
        return json.dumps(self.to_dict(redact=False))

    def __repr__(self) -> str:  # never print secrets
        return f"Config({self.to_dict(redact=True)})"


SECRET_FIELDS = [("kafka", "sasl_password"), ("kafka", "ssl_key_password"), ("redis", "password")]
SECRET_FILES = {("kafka", "sasl_password_file"): "sasl_password", ("redis", "password_file"): "password"}
SASL_MECHANISMS = ("", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
"""The SASL mechanisms the job configures (a login module each); others (OAUTHBEARER, GSSAPI) need
settings this config does not carry."""
DELIVERY_GUARANTEES = ("exactly_once", "at_least_once")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (list, Sequence):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_tp,) = typing.get_args(tp)
        return [_coerce(v, item_tp, where) for v in value]
    if isinstance(tp, types.UnionType):
        tp = next(t for t in typing.get_args(tp) if t is not type(None))
    try:
        if tp is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(value)
            return bool(value)
        if tp in (int, float, str):
            return tp(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: cannot read {value!r} as {tp.__name__}") from None
    return value


def _apply(cfg: Config, section: str, name: str, value: Any, where: str) -> None:
    sec = getattr(cfg, section, None)
    if sec is None or not dataclasses.is_dataclass(sec):
        raise ConfigError(f"{where}: unknown config section {section!r}")
    hints = typing.get_type_hints(type(sec))
    if name not in hints:
        raise ConfigError(f"{where}: unknown field {section}.{name}")
    setattr(sec, name, _coerce(value, hints[name], f"{where} {section}.{name}"))


class ConfigError(ValueError):
    """A configuration value is unknown or of the wrong type."""


def load_config(
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Config:
    """Build the configuration: defaults < JSON file < env vars < ``section.field=value`` overrides."""
    cfg = Config()
    if path:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read config file {path}: {e}") from None
        _merge(cfg, data, str(path))
    environ = os.environ if env is None else env
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and "__" in key:
            section, name = key[len(ENV_PREFIX) :].lower().split("__", 1)
            _apply(cfg, section, name, value, f"env {key}")
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ConfigError(f"override {item!r}: expected section.field=value")
        dotted, value = item.split("=", 1)
        section, name = dotted.split(".", 1)
        _apply(cfg, section, name, value, "override")
    _read_secret_files(cfg)
    validate(cfg)
    return cfg


def _read_secret_files(cfg: Config) -> None:
    """Secrets given as files (e.g. mounted Kubernetes/Docker secrets) replace the inline values."""
    for (section, name), target in SECRET_FILES.items():
        path = getattr(getattr(cfg, section), name)
        if not path:
            continue
        try:
            secret = Path(path).read_text().strip()
        except OSError as e:
            raise ConfigError(f"{section}.{name}: cannot read {path} ({e.strerror})") from None
        setattr(getattr(cfg, section), target, secret)


def _merge(cfg: Config, data: Mapping[str, Any], where: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a JSON object")
    for section, values in data.items():
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where}: section {section!r} must be an object")
        for name, value in values.items():
            _apply(cfg, section, name, value, where)


def config_from_json(text: str) -> Config:
    """Inverse of :meth:`Config.to_json` (used by job processes)."""
    cfg = Config()
    _merge(cfg, json.loads(text), "json")
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Reject configurations that cannot work, with a message naming the field."""
    w = cfg.window
    if not 2 <= w.short <= w.long:
        raise ConfigError("window.short must be >= 2 and <= window.long")
    if w.long > 65535:  # the entity state stores the ring's length in two bytes
        raise ConfigError("window.long must be at most 65535")
    if w.warmup < w.long:
        raise ConfigError("window.warmup must be >= window.long")
    for name in ("ewma_alpha", "baseline_alpha"):
        if not 0.0 < getattr(w, name) <= 1.0:  # beyond 1 the averages diverge, the variance turns negative
            raise ConfigError(f"window.{name} must be in (0, 1]")
    if not w.drift_halflife_h >= 0.0 or math.isinf(w.drift_halflife_h):  # NaN fails the first test
        raise ConfigError("window.drift_halflife_h must be a finite number of hours >= 0 (0: off)")
    if not cfg.stream.metrics:
        raise ConfigError("stream.metrics must name at least one metric")
    if not cfg.stream.entity_labels:
        raise ConfigError("stream.entity_labels must name at least one label")
    if not 1 <= cfg.alert.k <= cfg.alert.n:
        raise ConfigError("alert.k must be between 1 and alert.n")
    if cfg.alert.n > 8:  # the entity state keeps the last n above-threshold flags in one byte
        raise ConfigError("alert.n must be at most 8")
    if not 0.0 < cfg.alert.contributor_alpha <= 1.0:
        raise ConfigError("alert.contributor_alpha must be in (0, 1]")
    if not 0.0 <= cfg.alert.contributor_alpha_normal <= 1.0:
        raise ConfigError("alert.contributor_alpha_normal must be in [0, 1]")
    if not 0.0 <= cfg.alert.range_tolerance < math.inf:
        raise ConfigError("alert.range_tolerance must be a finite number >= 0 (0: off)")
    if not 0 <= cfg.alert.stuck_rows < 2**24:
        raise ConfigError("alert.stuck_rows must be between 0 (off) and 16777215")
    if not 1 <= cfg.alert.episode_gap <= 255:
        raise ConfigError("alert.episode_gap must be between 1 and 255")
    if not cfg.alert.episode_gap <= cfg.alert.episode_max_gap <= 255:
        raise ConfigError("alert.episode_max_gap must be between alert.episode_gap and 255")
    r = cfg.redis
    for name in ("ttl_s", "history_maxlen", "batch_size", "max_buffer"):
        if getattr(r, name) < 1:
            raise ConfigError(f"redis.{name} must be >= 1")
    if r.flush_interval_ms < 0:
        raise ConfigError("redis.flush_interval_ms must be >= 0")
    if not 0.0 < r.socket_timeout_s < math.inf:
        raise ConfigError("redis.socket_timeout_s must be a positive number")
    if cfg.job.state_buckets < 1:
        raise ConfigError("job.state_buckets must be >= 1")
    if cfg.job.execution_mode not in ("process", "thread"):
        raise ConfigError("job.execution_mode must be process or thread")
    if cfg.kafka.starting_offsets not in ("earliest", "latest"):
        raise ConfigError("kafka.starting_offsets must be earliest or latest")
    for name in ("delivery_guarantee", "scores_delivery_guarantee"):
        value = getattr(cfg.kafka, name)
        if value not in DELIVERY_GUARANTEES:
            raise ConfigError(f"kafka.{name} must be one of {', '.join(DELIVERY_GUARANTEES)}, not {value!r}")
        if value == "exactly_once" and cfg.job.checkpoint_interval_ms <= 0:
            raise ConfigError(
                f"kafka.{name}=exactly_once needs checkpointing (job.checkpoint_interval_ms > 0)"
            )
    if cfg.kafka.sasl_mechanism not in SASL_MECHANISMS:
        raise ConfigError(
            f"kafka.sasl_mechanism must be empty or one of {', '.join(SASL_MECHANISMS[1:])}, "
            f"not {cfg.kafka.sasl_mechanism!r}"
        )
    if cfg.kafka.security_protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise ConfigError("kafka.security_protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
