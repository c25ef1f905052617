"""The harness scores what the job scores: one NAB file replayed through the real Flink job (broker in,
scores topic out) gives the same scores, record for record, as evaluation.harness for the same events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detector.config import load_config
from embedded.job import JobProcess
from embedded.kafka import create_topics, produce_json, producer, read_topic
from embedded.report import rows_scored
from evaluation.datasets import load_nab
from evaluation.harness import SentinelDetector
from training.train import export

pytestmark = pytest.mark.integration

NAB = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "nab"
FILE = "artificialWithAnomaly/art_daily_jumpsup.csv"


@pytest.mark.skipif(not (NAB / "data" / FILE).is_file(), reason="shared NAB data not present")
def test_job_scores_equal_harness_scores(stack, tmp_path):
    f = next(x for x in load_nab(NAB) if x.name == FILE)
    det = SentinelDetector(1, key="nab/art_daily_jumpsup")
    det.fit(f.values[: f.probation, None], f.times_ms[: f.probation])
    assert det.fitted is not None
    # a daily cycle (288 rows) in the probation: the job must also carry the seasonal history in its state
    seasonal = det.fitted.model.seasonal
    assert seasonal is not None and 280 <= seasonal.periods[0] <= 296
    period = int(seasonal.periods[0])
    model_dir = export(det.fitted, tmp_path / "models", det.cfg, det.params, {"source": FILE})
    expected = det.score(f.values[:, None], f.times_ms)["sentinel"]

    cfg = load_config(env={})
    cfg.stream.metrics = list(det.cfg.stream.metrics)
    k = cfg.kafka
    create_topics(
        stack.bootstrap, [k.input_topic, k.anomalies_topic, k.scores_topic, k.dlq_topic, k.late_topic]
    )
    records = [
        {"timestamp": int(t), "host": "nab", "service": "art_daily_jumpsup", "value": float(v)}
        for t, v in zip(f.times_ms, f.values, strict=True)
    ]
    prod = producer(stack.bootstrap)
    produce_json(prod, k.input_topic, records, key_of=lambda r: "nab")
    del prod
    cfg.kafka.bootstrap_servers = stack.bootstrap
    cfg.redis.port = stack.redis_port
    cfg.job.model_dir = str(model_dir)
    job = JobProcess(cfg, tmp_path / "job.log")
    try:
        raw = read_topic(
            stack.bootstrap, k.scores_topic, lambda v: rows_scored(v) >= len(records), 300, alive=job.alive
        )
    finally:
        job.stop()
    log = (tmp_path / "job.log").read_text()[-3000:]
    assert rows_scored(raw) == len(records), log
    by_time = {r["event_time_ms"]: r for r in map(json.loads, raw)}
    row = {int(t): i for i, t in enumerate(f.times_ms)}
    job_score = np.full(len(records), np.nan)
    job_alert = np.zeros(len(records), dtype=np.int8)
    for t, r in by_time.items():
        if r["status"] != "warming_up":
            job_score[row[t]] = r["score"]
            job_alert[row[t]] = r["status"] == "anomaly"
    scored = np.isfinite(expected.score)
    assert (np.isfinite(job_score) == scored).all()
    assert scored.sum() == len(records) - det.cfg.window.warmup + 1
    # the job rounds scores to 6 decimals in its records
    np.testing.assert_allclose(job_score[scored], expected.score[scored], rtol=0, atol=1e-5)
    assert (job_alert == expected.alert).all()
    assert expected.alert.sum() > 0  # the comparison covers alerts, not only quiet rows
    # rows after the first period and a window carry the seasonal stage's score
    assert sum("seasonal_score" in r for r in by_time.values()) == len(records) - period - 6 + 1
