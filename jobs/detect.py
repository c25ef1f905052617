"""The streaming detection job: Kafka -> parse -> watermarks -> keyed detection -> Kafka.

Run locally (MiniCluster):  python -m jobs.detect --config my.json --set kafka.bootstrap_servers=...
On a cluster:               flink run -py jobs/detect.py -pyexec "$(which python)" -- --config ...
"""

from __future__ import annotations

import argparse
import sys
import zlib
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `flink run -py jobs/detect.py`: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyflink.common import Configuration, Duration, Types, WatermarkStrategy
from pyflink.common.serialization import DeserializationSchema, SerializationSchema
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import CheckpointingMode, DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.base import DeliveryGuarantee
from pyflink.datastream.connectors.kafka import (
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
)
from pyflink.datastream.functions import KeySelector
from pyflink.java_gateway import get_gateway

from detector.config import Config, ConfigError, load_config
from detector.engine import check_fits
from detector.model_reload import ModelWatcher
from detector.model_store import ModelIntegrityError
from udfs.detect import LATE_TAG, SCORES_TAG, DetectAnomalies
from udfs.parse import DLQ_TAG, ParseEvents
from udfs.progress import PROGRESS_TAG

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JARS = [
    ROOT / ".cache/jars/flink-connector-kafka.jar",
    ROOT / ".cache/jars/kafka-clients.jar",
    ROOT / ".cache/jars/sentinel-flink-helpers.jar",  # built from java/ by scripts/bootstrap.sh
]


class EventTime(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value.timestamp_ms


class EntityBucket(KeySelector):
    """Stable bucket of the entity (crc32, not Python's salted hash): same entity, same subtask."""

    def __init__(self, buckets: int):
        self.buckets = buckets

    def get_key(self, value):
        return zlib.crc32(value.key.encode()) % self.buckets


def build_pipeline(raw: DataStream, cfg: Config) -> dict[str, DataStream]:
    """Wire the detection pipeline onto a stream of raw JSON payloads (bytes); returns the named
    output streams (anomalies, scores, late, progress: ``key\tjson`` strings; dlq: bytes)."""
    s = cfg.stream
    events = (
        raw.process(ParseEvents(s.entity_labels, s.metrics), output_type=Types.PICKLED_BYTE_ARRAY())
        .name("parse-events")
        .uid("parse-events")
    )
    watermarks = (
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(s.max_out_of_orderness_ms))
        .with_timestamp_assigner(EventTime())
        .with_idleness(Duration.of_millis(s.idle_timeout_ms))
    )
    detected = (
        events.assign_timestamps_and_watermarks(watermarks)
        .name("event-time")
        .uid("event-time")
        .key_by(EntityBucket(cfg.job.state_buckets), key_type=Types.INT())
        .process(DetectAnomalies(cfg.to_json()), output_type=Types.STRING())
        .name("detect-anomalies")
        .uid("detect-anomalies")
    )
    return {
        "anomalies": detected,
        "scores": detected.get_side_output(SCORES_TAG),
        "late": detected.get_side_output(LATE_TAG),
        "dlq": events.get_side_output(DLQ_TAG),
        "progress": detected.get_side_output(PROGRESS_TAG),
    }


def jaas_quoted(value: str) -> str:
    """``value`` for a double-quoted JAAS option (Kafka parses it with backslash escapes), so a quote or
    backslash in a password cannot end the string early."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def kafka_properties(cfg: Config) -> dict[str, str]:
    """Client properties for security settings (SSL / SASL) from the config."""
    k = cfg.kafka
    props = {"security.protocol": k.security_protocol}
    if k.ssl_ca_file:
        props["ssl.truststore.type"] = "PEM"
        props["ssl.truststore.location"] = k.ssl_ca_file
    if k.ssl_keystore_file:
        props["ssl.keystore.type"] = "PEM"
        props["ssl.keystore.location"] = k.ssl_keystore_file
        if k.ssl_key_password:
            props["ssl.key.password"] = k.ssl_key_password
    if k.sasl_mechanism:
        props["sasl.mechanism"] = k.sasl_mechanism
        module = (
            "org.apache.kafka.common.security.plain.PlainLoginModule"
            if k.sasl_mechanism == "PLAIN"
            else "org.apache.kafka.common.security.scram.ScramLoginModule"
        )
        props["sasl.jaas.config"] = (
            f'{module} required username="{jaas_quoted(k.sasl_username)}" '
            f'password="{jaas_quoted(k.sasl_password)}";'
        )
    return props


def helper(name: str) -> Any:
    """A class of the project's Java helpers (java/src/io/sentinel/flink, built by scripts/bootstrap.sh)."""
    jvm = get_gateway().jvm
    obj = jvm.io.sentinel.flink
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def delivery(guarantee: str) -> DeliveryGuarantee:
    return DeliveryGuarantee.EXACTLY_ONCE if guarantee == "exactly_once" else DeliveryGuarantee.AT_LEAST_ONCE


def kafka_sink(cfg: Config, topic: str, guarantee: str, dead_letter: bool = False) -> KafkaSink:
    """A Kafka sink for ``key\tvalue`` string elements (record key = the key, value = the rest), or,
    with ``dead_letter``, for the parser's dead-letter byte elements (key = reason, value = the
    original bytes, headers reason and detail)."""
    k = cfg.kafka
    if dead_letter:
        key_schema = SerializationSchema(helper("DeadLetter$Key")())
        value_schema = SerializationSchema(helper("DeadLetter$Value")())
    else:
        key_schema = SerializationSchema(helper("KeyValueSplitSchema")(True))
        value_schema = SerializationSchema(helper("KeyValueSplitSchema")(False))
    record = KafkaRecordSerializationSchema.builder().set_topic(topic)
    record = record.set_key_serialization_schema(key_schema).set_value_serialization_schema(value_schema)
    if dead_letter:
        # PyFlink does not wrap setHeaderProvider (connector 4.0 has it): call the Java builder directly
        record._j_builder.setHeaderProvider(helper("DeadLetter$HeaderFields")())
    builder = (
        KafkaSink.builder()
        .set_bootstrap_servers(k.bootstrap_servers)
        .set_record_serializer(record.build())
        .set_delivery_guarantee(delivery(guarantee))
        .set_property("max.request.size", str(k.max_request_bytes))
        .set_property("linger.ms", str(k.sink_linger_ms))
    )
    if guarantee == "exactly_once":
        builder = builder.set_transactional_id_prefix(f"{k.transactional_id_prefix}-{topic}").set_property(
            "transaction.timeout.ms", str(k.transaction_timeout_ms)
        )
    for key, value in kafka_properties(cfg).items():
        builder = builder.set_property(key, value)
    return builder.build()


def create_environment(cfg: Config) -> StreamExecutionEnvironment:
    """Execution environment with jars, Python executable, mode, parallelism and checkpointing."""
    conf = Configuration()
    conf.set_string("python.execution-mode", cfg.job.execution_mode)
    conf.set_string("python.fn-execution.bundle.time", str(cfg.job.bundle_time_ms))
    conf.set_string("python.fn-execution.bundle.size", str(cfg.job.bundle_size))
    conf.set_string("python.state.cache-size", str(cfg.job.state_cache_size))
    conf.set_string("python.map-state.read-cache-size", str(cfg.job.state_cache_size))
    conf.set_string("python.map-state.write-cache-size", str(cfg.job.state_cache_size))
    conf.set_string("execution.buffer-timeout.interval", f"{cfg.job.buffer_timeout_ms} ms")
    conf.set_string("restart-strategy.type", "exponential-delay")
    conf.set_string("restart-strategy.exponential-delay.max-backoff", "1 min")
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    jars = [Path(j) for j in cfg.job.jars] or DEFAULT_JARS
    missing = [str(j) for j in jars if not Path(j).is_file()]
    if missing:
        raise SystemExit(
            f"Kafka connector jars not found: {missing}. Run `make setup` (scripts/bootstrap.sh)."
        )
    env.add_jars(*[Path(j).resolve().as_uri() for j in jars])
    env.set_python_executable(sys.executable)
    env.set_parallelism(cfg.job.parallelism)
    env.get_config().set_auto_watermark_interval(200)
    if cfg.job.checkpoint_interval_ms > 0:
        env.enable_checkpointing(cfg.job.checkpoint_interval_ms, CheckpointingMode.EXACTLY_ONCE)
    return env


def kafka_source_stream(env: StreamExecutionEnvironment, cfg: Config) -> DataStream:
    """The input topic as a stream of the records' raw value bytes."""
    k = cfg.kafka
    # committed_offsets(reset) would need the shaded kafka-clients of the SQL connector jar; on restart
    # the offsets come from the checkpoint anyway, so a fresh job starts at earliest or latest.
    start = (
        KafkaOffsetsInitializer.earliest()
        if k.starting_offsets == "earliest"
        else KafkaOffsetsInitializer.latest()
    )
    source = (
        KafkaSource.builder()
        .set_bootstrap_servers(k.bootstrap_servers)
        .set_topics(k.input_topic)
        .set_group_id(k.group_id)
        .set_starting_offsets(start)
        .set_value_only_deserializer(DeserializationSchema(helper("RawBytesSchema")()))
        .set_properties(kafka_properties(cfg))
        .set_property("fetch.max.wait.ms", str(k.fetch_max_wait_ms))
        .build()
    )
    return env.from_source(
        source,
        WatermarkStrategy.no_watermarks(),
        "kafka-metrics",
        type_info=Types.PRIMITIVE_ARRAY(Types.BYTE()),
    ).uid("kafka-metrics")


def attach_kafka(env: StreamExecutionEnvironment, cfg: Config) -> None:
    """Kafka source -> pipeline -> Kafka sinks."""
    k = cfg.kafka
    outputs = build_pipeline(kafka_source_stream(env, cfg), cfg)
    topics: dict[str, Any] = {"anomalies": k.anomalies_topic, "dlq": k.dlq_topic, "late": k.late_topic}
    if cfg.job.emit_scores and k.scores_topic:
        topics["scores"] = k.scores_topic
    if cfg.job.progress_every > 0:
        topics["progress"] = k.progress_topic
    for name, topic in topics.items():
        guarantee = k.scores_delivery_guarantee if name in ("scores", "progress") else k.delivery_guarantee
        sink = kafka_sink(cfg, topic, guarantee, dead_letter=name == "dlq")
        outputs[name].sink_to(sink).name(f"sink-{name}").uid(f"sink-{name}")


def startup_model(cfg: Config) -> dict[str, Any]:
    """The manifest of the version the detectors will start from: the newest under ``job.model_dir`` that
    verifies and fits the stream, as each detector chooses it. Exits (before anything is submitted)
    when none does, naming every version and why it was refused."""
    watcher = ModelWatcher(cfg.job.model_dir, 0, partial(check_fits, cfg))
    try:
        _, manifest = watcher.initial()
    except ModelIntegrityError as e:
        raise SystemExit(f"refusing to start: {e}") from None
    return manifest


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="JSON config file (see README: Configuration)")
    p.add_argument(
        "--set", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="override a field"
    )
    args = p.parse_args(argv)
    try:
        cfg = load_config(args.config, args.set)
    except ConfigError as e:
        raise SystemExit(f"configuration error: {e}") from None
    manifest = startup_model(cfg)
    # job.model_dir stays as given: a root of versions is polled for newer ones (job.model_reload_...)
    env = create_environment(cfg)
    attach_kafka(env, cfg)
    print(
        f"submitting detection job: model {manifest['version']}, parallelism {cfg.job.parallelism}",
        flush=True,
    )
    env.execute("sentinel-anomaly-detection")


if __name__ == "__main__":
    main()
