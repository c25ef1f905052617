"""The same job file submitted with ``flink run -py`` to a real local standalone Flink cluster."""

import json

import pytest

from alerting.dedupe import AlertDeduper
from detector.config import load_config
from embedded.cluster import ROOT, StandaloneCluster
from embedded.kafka import create_topics, drain_topic, produce_json, producer, read_topic
from embedded.report import rows_scored, score_alerts
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
            lambda v: rows_scored(v) >= len(events),
            300,
            alive=lambda: cluster.job_state(job_id) in ("CREATED", "INITIALIZING", "RUNNING", "RESTARTING"),
        )
        # every row is scored; its anomalies are visible once the checkpoints after it completed
        cluster.wait_committed(job_id)
        anomalies = [json.loads(v) for v in drain_topic(stack.bootstrap, k.anomalies_topic)]
        state = cluster.job_state(job_id)
        checkpoints = cluster.checkpoints_completed(job_id)
        restarts = cluster.restarts(job_id)
    assert rows_scored(scores) == len(events)
    assert state == "RUNNING"
    dedupe = AlertDeduper(cfg.alert.cooldown_s)
    report = score_alerts(incidents, [a for a in anomalies if dedupe.offer(a)], len(events), 20)
    # the score records (at-least-once) say which rows the job found anomalous: if they hold more
    # anomalous rows than the anomalies topic (exactly-once, visible once committed), the job detected
    # what the topic lacks and the fault is in the commit, not in the detection
    anomalous_scores = {
        (r["key"], r["event_time_ms"]) for r in map(json.loads, scores) if r.get("status") == "anomaly"
    }
    # restarts are allowed (exactly-once outputs), but they are the first suspect when this fails
    assert report["precision"] >= 0.9 and report["recall"] >= 0.9, json.dumps(
        dict(
            report,
            restarts=restarts,
            checkpoints=checkpoints,
            anomalous_rows_in_scores=len(anomalous_scores),
            anomaly_records=len(anomalies),
        )
    )
    assert checkpoints >= 1
