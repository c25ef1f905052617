"""Small Kafka helpers over confluent-kafka: topics, producing, and reading a topic to a stop condition."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detector.config import Config


def client_security(cfg: Config) -> dict[str, str]:
    """librdkafka (confluent-kafka) settings for the config's Kafka security, the counterpart of the
    job's Java client properties (``jobs.detect.kafka_properties``)."""
    k = cfg.kafka
    props = {"security.protocol": k.security_protocol}
    if k.ssl_ca_file:
        props["ssl.ca.location"] = k.ssl_ca_file
    if k.ssl_keystore_file:  # one PEM file with the client certificate and its key
        props["ssl.certificate.location"] = k.ssl_keystore_file
        props["ssl.key.location"] = k.ssl_keystore_file
        if k.ssl_key_password:
            props["ssl.key.password"] = k.ssl_key_password
    if k.sasl_mechanism:
        props["sasl.mechanisms"] = k.sasl_mechanism
        props["sasl.username"] = k.sasl_username
        props["sasl.password"] = k.sasl_password
    return props


def create_topics(bootstrap: str, topics: Iterable[str], partitions: int = 2) -> None:
    """Create topics that do not exist yet (idempotent)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    new = [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics if t not in existing]
    if not new:
        return
    for topic, fut in admin.create_topics(new).items():
        try:
            fut.result(15)
        except Exception as e:
            if "already exists" not in str(e).lower() and "TOPIC_ALREADY_EXISTS" not in str(e):
                raise RuntimeError(f"cannot create topic {topic}: {e}") from None


def producer(bootstrap: str, **extra: Any):
    from confluent_kafka import Producer

    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "compression.type": "none",
            "message.max.bytes": 8 * 1024 * 1024,  # dead-letter tests send 1 MB payloads
            **extra,
        }
    )


def produce_one(prod, topic: str, value: bytes, key: bytes | None = None) -> None:
    """Produce one record, waiting (serving delivery callbacks) while the local queue is full."""
    while True:
        try:
            prod.produce(topic, value, key=key)
            return
        except BufferError:
            prod.poll(0.05)


def produce_json(
    prod, topic: str, records: Iterable[dict], key_of: Callable[[dict], str] | None = None
) -> int:
    """Produce JSON records; returns how many. Flushes at the end."""
    n = 0
    for r in records:
        produce_one(prod, topic, json.dumps(r).encode(), key_of(r).encode() if key_of else None)
        n += 1
        if n % 10_000 == 0:
            prod.poll(0)
    prod.flush(30)
    return n


def consumer(bootstrap: str, topics: list[str], group: str, **extra: Any):
    from confluent_kafka import Consumer

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **extra,
        }
    )
    c.subscribe(topics)
    return c


def assign_from_start(bootstrap: str, topic: str, **extra: Any):
    """A ``read_committed`` consumer assigned to every partition of ``topic`` from the beginning, with
    no group membership (group joins are slow on the embedded broker, and readers need no group)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{time.time_ns()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",  # exactly-once topics: committed transactions only
            "fetch.message.max.bytes": 8 * 1024 * 1024,
            **extra,
        }
    )
    meta = c.list_topics(topic, timeout=10).topics[topic]
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(meta.partitions)])
    return c


def drain_topic(
    bootstrap: str, topic: str, idle_s: float = 6.0, limit_s: float = 60.0, **extra: Any
) -> list[bytes]:
    """Every value of ``topic`` from the start, read until nothing new arrives for ``idle_s``."""
    c = assign_from_start(bootstrap, topic, **extra)
    out: list[bytes] = []
    deadline = quiet_since = time.time()
    deadline += limit_s
    try:
        while time.time() < deadline and time.time() - quiet_since < idle_s:
            msgs = [m for m in c.consume(2000, 0.5) if not m.error()]
            if msgs:
                out.extend(m.value() for m in msgs)
                quiet_since = time.time()
    finally:
        c.close()
    return out


def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[bytes]], bool],
    timeout_s: float,
    alive: Callable[[], bool] = lambda: True,
    keys: list[bytes | None] | None = None,
    headers: list[dict[str, bytes]] | None = None,
) -> list[bytes]:
    """Read values from the start of ``topic`` until ``until(values)`` is true or the timeout passes.

    (No "read to the high watermark": the embedded broker can under-report it.) Stops early, raising
    RuntimeError, when ``alive()`` turns false (e.g. the job process died). Record keys are appended
    to ``keys`` and headers to ``headers`` when they are given.
    """
    c = assign_from_start(bootstrap, topic)
    out: list[bytes] = []
    deadline = time.time() + timeout_s
    try:
        while time.time() < deadline and not until(out):
            if not alive():
                raise RuntimeError(f"gave up reading {topic}: the producing process is gone")
            for msg in c.consume(1000, 0.5):
                if not msg.error():
                    out.append(msg.value())
                    if keys is not None:
                        keys.append(msg.key())
                    if headers is not None:
                        headers.append(dict(msg.headers() or []))
    finally:
        c.close()
    return out
