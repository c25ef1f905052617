"""The same job file submitted with ``flink run -py`` to a real local standalone Flink cluster."""

import json

import pytest

from alerting.dedupe import AlertDeduper
from detector.config import load_config
from embedded.cluster import ROOT, StandaloneCluster
from embedded.kafka import create_topics, produce_json, producer, read_topic
from embedded.report import score_alerts
from generator.simulate import Fleet, FleetSpec

pytestmark = pytest.mark.cluster

T0 = 1_796_000_000_000


def test_flink_run_on_a_standalone_cluster(stack, model_dir, tmp_path):
    cfg = load_config(env={})
    k = cfg.kafka
    create_topics(
        stack.bootstrap, [k.input_topic, k.anomalies_topic, k.scores_topic, k.dlq_topic, k.late_topic]
    )
    fleet = Fleet(FleetSpec(hosts=20, seed=11))
    incidents = fleet.schedule_incidents(45, 120, 5, T0)
    events = list(fleet.events(T0, 120))
    prod = producer(stack.bootstrap)
    produce_json(prod, k.input_topic, events, key_of=lambda e: e["host"])
    del prod
    cfg.kafka.bootstrap_servers = stack.bootstrap
    cfg.redis.port = stack.redis_port
    cfg.job.model_dir = str(model_dir)
    cfg.job.parallelism = 2
    conf = tmp_path / "job.json"
    conf.write_text(cfg.to_json())
    with StandaloneCluster(tmp_path / "flink") as cluster:
        job_id = cluster.submit(ROOT / "jobs/detect.py", ["--config", str(conf)])
        scores = read_topic(
            stack.bootstrap,
            k.scores_topic,
            lambda v: len(v) >= len(events),
            300,
            alive=lambda: cluster.job_state(job_id) in ("CREATED", "INITIALIZING", "RUNNING", "RESTARTING"),
        )
        anomalies = [
            json.loads(v) for v in read_topic(stack.bootstrap, k.anomalies_topic, lambda v: False, 8)
        ]
        assert cluster.job_state(job_id) == "RUNNING"
        checkpoints = cluster.get(f"/jobs/{job_id}/checkpoints")["counts"]["completed"]
    assert len(scores) == len(events)
    dedupe = AlertDeduper(cfg.alert.cooldown_s)
    report = score_alerts(incidents, [a for a in anomalies if dedupe.offer(a)], len(events), 20)
    assert report["precision"] >= 0.9 and report["recall"] >= 0.9, report
    assert checkpoints >= 1
