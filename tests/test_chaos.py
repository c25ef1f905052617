"""Fault injection on a real standalone Flink cluster (the short version of ``make chaos``)."""

import dataclasses

import pytest

from detector.events import MalformedEvent, parse_event
from embedded.chaos import QUICK, compare, malformed_payloads, run_chaos


def test_compare_counts_lost_duplicated_and_extra_records():
    def rec(key, t, score):
        return {"key": key, "event_time_ms": t, "score": score, "detected_at": "ignored"}

    clean = [rec("a", 1, 0.5), rec("a", 2, 0.7), rec("b", 1, 0.9)]
    faulty = [rec("a", 1, 0.5), rec("a", 1, 0.5), rec("b", 1, 0.9), rec("b", 2, 0.1), rec("b", 1, 0.8)]
    assert compare(clean, faulty) == {"lost": 1, "duplicates": 1, "extra": 2}
    assert compare(clean, list(reversed(clean))) == {"lost": 0, "duplicates": 0, "extra": 0}


def test_hostile_payloads_are_all_rejected_for_many_reasons():
    payloads = malformed_payloads(0, 1_790_000_000_000)
    reasons = set()
    for p in payloads:
        with pytest.raises(MalformedEvent) as e:
            parse_event(p, ["host", "service"], ["cpu_usage", "memory_usage"])
        reasons.add(e.value.reason)
    assert max(map(len, payloads)) > 1_000_000 and b"" in payloads
    assert len(reasons) >= 10, reasons


@pytest.mark.cluster
def test_taskmanager_kill_redis_outage_and_hostile_input_change_no_anomaly(model_dir, tmp_path):
    plan = dataclasses.replace(QUICK)
    report = run_chaos(plan, tmp_path / "chaos", print, models=model_dir.parent)
    summary = {k: v for k, v in report.items() if k not in ("timeline", "plan")}
    assert report["records_fault_free"] > 0, summary
    assert (report["lost"], report["duplicates"], report["extra"]) == (0, 0, 0), summary
    assert report["taskmanager_kills"] == 1 and report["job_restarts"] >= 1, summary
    assert not report["job_failed"], summary
    assert report["malformed_in_dlq"] == report["malformed_sent"] > 0 and report["dlq_unexpected"] == 0
    assert report["late_in_late_topic"] == report["late_or_duplicate_sent"] > 0, summary
    assert report["redis_history_gap_filled"], summary
    assert report["secret_in_logs"] == [], summary
    assert report["passed"]
