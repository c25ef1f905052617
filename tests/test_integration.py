"""The real job on a local MiniCluster, with the real broker and redis-server (parallelism 1 and 2)."""

import json

import numpy as np
import pytest

from alerting.dedupe import AlertDeduper
from detector.config import load_config
from detector.events import MalformedEvent, parse_event
from embedded.job import JobProcess
from embedded.kafka import create_topics, produce_json, producer, read_topic
from embedded.report import rows_scored, score_alerts
from feature_store.keys import HISTORY_STREAM, latest_key
from feature_store.store import RedisFeatureStore
from generator.simulate import INCIDENT_TYPES, Fleet, FleetSpec

pytestmark = pytest.mark.integration

HOSTS, STEPS, INCIDENTS = 30, 150, 10
T0 = 1_795_000_000_000
MALFORMED = [
    b"{not json",
    b"",
    b"null",
    b'{"timestamp": "soon", "host": "h", "service": "s", "cpu_usage": 1}',
    b'{"timestamp": 1795000000000, "host": "h", "service": "s", "cpu_usage": "NaN-ish"}',
    b'{"timestamp": 1795000000000, "host": "h", "service": "s", "cpu_usage": Infinity}',
    b'{"timestamp": 1795000000000, "service": "s", "cpu_usage": 1}',
    b"\xff\xfe\xfd",
    b'{"timestamp": 1795000000000, "host": "h", "service": "s", "cpu_usage": 1e200}',
    b'{"timestamp": 1795000000000, "host": "h", "service": "s", "pad": "' + b"x" * 1_000_000 + b'"}',
]


def expected_reason(payload: bytes, cfg) -> str:
    """The reason the parser gives for a payload (the job parses the record's raw bytes)."""
    try:
        parse_event(payload, cfg.stream.entity_labels, cfg.stream.metrics)
    except MalformedEvent as e:
        return e.reason
    raise AssertionError(f"{payload!r} parses")


NARROW_HOSTS = {"host-0000", "host-0001", "host-0002"}


def detected(incidents, values: list[bytes]) -> int:
    """How many of the incidents the anomaly records ``values`` detect."""
    return score_alerts(incidents, [json.loads(v) for v in values], 0, 0)["detected_incidents"]


def as_sent(events: list[dict]) -> list[dict]:
    """Some hosts report in the narrow shape (one record per metric), the rest wide."""
    out = []
    for e in events:
        if e["host"] not in NARROW_HOSTS:
            out.append(e)
            continue
        labels = {"host": e["host"], "service": e["service"]}
        for m in ("cpu_usage", "memory_usage", "response_time_ms", "disk_io_mb", "network_io_mb"):
            out.append({"timestamp": e["timestamp"], "labels": labels, "metric": m, "value": e[m]})
    return out


@pytest.mark.parametrize("parallelism", [1, 2])
def test_job_detects_incidents_and_writes_features(stack, model_dir, tmp_path, parallelism):
    cfg = load_config(env={})
    k = cfg.kafka
    create_topics(
        stack.bootstrap, [k.input_topic, k.anomalies_topic, k.scores_topic, k.dlq_topic, k.late_topic]
    )
    fleet = Fleet(FleetSpec(hosts=HOSTS, seed=99))
    incidents = fleet.schedule_incidents(45, STEPS, INCIDENTS, T0)
    events = list(fleet.events(T0, STEPS))
    sent = as_sent(events)
    host_of = lambda e: e.get("host") or e["labels"]["host"]  # noqa: E731
    prod = producer(stack.bootstrap)
    half = len(sent) // 2  # malformed records in the middle of good data
    produce_json(prod, k.input_topic, sent[:half], key_of=host_of)
    for bad in MALFORMED:
        prod.produce(k.input_topic, bad)
    produce_json(prod, k.input_topic, sent[half:], key_of=host_of)
    late = dict(events[0], cpu_usage=99.0)  # older than its entity's clock: late output, not lost
    produce_json(prod, k.input_topic, [late])
    del prod  # flushed; gone before the broker stops

    cfg.kafka.bootstrap_servers = stack.bootstrap
    cfg.redis.port = stack.redis_port
    cfg.job.model_dir = str(model_dir)
    cfg.job.parallelism = parallelism
    job = JobProcess(cfg, tmp_path / "job.log")
    try:
        scores = read_topic(
            stack.bootstrap, k.scores_topic, lambda v: rows_scored(v) >= len(events), 300, alive=job.alive
        )
        # exactly-once anomalies become visible when a checkpoint commits them, a few seconds after
        # their scores (longer on a loaded machine): wait for every incident's (a miss still fails
        # below, a minute later), then read what came with them
        read_topic(
            stack.bootstrap,
            k.anomalies_topic,
            lambda v: detected(incidents, v) == len(incidents),
            60,
            alive=job.alive,
        )
        anomaly_keys: list = []
        raw = read_topic(stack.bootstrap, k.anomalies_topic, lambda v: False, 8, keys=anomaly_keys)
        anomalies = [json.loads(v) for v in raw]
        dlq_keys: list = []
        dlq_headers: list = []
        dlq = read_topic(
            stack.bootstrap,
            k.dlq_topic,
            lambda v: len(v) >= len(MALFORMED),
            30,
            keys=dlq_keys,
            headers=dlq_headers,
        )
        late_out = read_topic(stack.bootstrap, k.late_topic, lambda v: len(v) >= 1, 30)
    finally:
        job.stop()
    log = (tmp_path / "job.log").read_text()[-3000:]

    assert rows_scored(scores) == len(events), log
    assert anomalies and [key.decode() for key in anomaly_keys] == [a["key"] for a in anomalies]
    dedupe = AlertDeduper(cfg.alert.cooldown_s)
    report = score_alerts(incidents, [a for a in anomalies if dedupe.offer(a)], len(events), HOSTS)
    assert report["precision"] >= 0.9 and report["recall"] >= 0.9, report
    assert set(report["recall_by_type"]) == set(INCIDENT_TYPES)

    # dead letters: the original bytes unchanged, key and header = the reason, a detail header
    assert sorted(dlq) == sorted(MALFORMED)
    reasons = {bad: expected_reason(bad, cfg) for bad in MALFORMED}
    assert [key.decode() for key in dlq_keys] == [reasons[v] for v in dlq]
    assert [h["reason"] for h in dlq_headers] == dlq_keys and all("detail" in h for h in dlq_headers)
    assert [json.loads(v)["reason"] for v in late_out] == ["older_than_entity_clock"]

    store = RedisFeatureStore(cfg.redis)
    scored_rows = HOSTS * (STEPS - cfg.window.warmup + 1)
    assert store.client.xlen(HISTORY_STREAM) == scored_rows
    assert len(store.client.keys(latest_key("*"))) == HOSTS
    latest = store.read_latest(incidents[0].key)
    assert latest is not None and latest.timestamp_ms == T0 + (STEPS - 1) * 1000
    assert (
        np.isfinite(latest.vector).all()
        and 0 < store.client.ttl(latest_key(incidents[0].key)) <= cfg.redis.ttl_s
    )
    assert len(store.read_history()) == scored_rows

    if parallelism == 1:  # the data team's path: train a new version from the history the job wrote
        from training.cli import main as train

        out = tmp_path / "retrained"
        assert (
            train(
                [
                    "--source",
                    "redis",
                    "--out",
                    str(out),
                    "--epochs",
                    "2",
                    "--min-steps",
                    "0",
                    "--quiet",
                    "--set",
                    f"redis.port={stack.redis_port}",
                ]
            )
            == 0
        )
        manifest = json.loads(next(out.glob("v*/manifest.json")).read_text())
        assert manifest["training_data"]["source"] == "redis"
        assert manifest["training_data"]["feature_rows"] == scored_rows
        # a config of other metrics than the job's is refused against the schema the job stored
        other = ["--source", "redis", "--out", str(tmp_path / "other"), "--quiet"]
        other += ["--set", f"redis.port={stack.redis_port}", "--set", "stream.metrics=cpu_usage"]
        assert train(other) == 2 and not (tmp_path / "other").exists()
