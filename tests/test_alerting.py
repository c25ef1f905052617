import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from alerting.consumer import AlertConsumer, post_webhook
from alerting.dedupe import AlertDeduper, format_alert, slack_payload
from embedded.report import score_alerts
from generator.simulate import Incident


def anomaly(key, t, score=3.0):
    return {
        "key": key,
        "event_time_ms": t,
        "event_time": "x",
        "score": score,
        "threshold": 1.5,
        "severity": "major",
        "model_version": "v1",
        "contributors": [{"metric": "cpu_usage", "value": 95.0, "expected": 40.0, "share": 0.8}],
    }


def test_one_incident_one_alert_and_duplicates_suppressed():
    d = AlertDeduper(cooldown_s=60)
    out = [d.offer(anomaly("a", t)) for t in (0, 1000, 1000, 50_000, 100_000, 170_001)]
    assert [o is not None for o in out] == [True, False, False, False, False, True]
    assert d.offer(anomaly("b", 1000)) is not None


def test_a_range_break_that_opens_an_episode_alerts_inside_the_cooldown_once():
    """A new extreme during an ongoing incident is news: the record the detector marks as opening an
    episode of its own (``episode_start`` with ``beyond_range``) passes the cooldown, once."""
    d = AlertDeduper(cooldown_s=60)
    brk = dict(anomaly("a", 20_000, score=40.0), episode_start=True, beyond_range=["cpu_usage"])
    later = dict(brk, event_time_ms=30_000, episode_start=False)  # a break inside the break's own gap
    out = [d.offer(x) for x in (anomaly("a", 0), anomaly("a", 10_000), brk, dict(brk), later)]
    assert [o is not None for o in out] == [True, False, True, False, False]  # the redelivered one: no
    assert d.offer(anomaly("a", 80_000)) is None  # the cooldown runs from the last anomaly, as before
    # a stuck entity that opens an episode is news too
    stuck = dict(anomaly("a", 90_000), episode_start=True, stuck=["disk_used"])
    assert (
        d.offer(stuck) is not None and d.offer(dict(stuck, event_time_ms=95_000, episode_start=False)) is None
    )


def test_alert_text_and_slack_payload():
    text = format_alert(anomaly("web-1/checkout", 0))
    assert "web-1/checkout" in text and "cpu_usage=95 (expected ~40)" in text and "MAJOR" in text
    assert slack_payload(anomaly("a", 0))["text"] == format_alert(anomaly("a", 0))
    stuck = format_alert(dict(anomaly("a", 0), stuck=["cpu_usage", "disk_io_mb"], stuck_rows=40))
    assert "stuck for 40 rows: cpu_usage, disk_io_mb" in stuck


def test_webhook_receives_the_payload():
    got = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.handle_request)
    t.start()
    assert post_webhook(f"http://127.0.0.1:{srv.server_port}/hook", {"text": "hi"})
    t.join(5)
    srv.server_close()
    assert got == [{"text": "hi"}]
    assert post_webhook("http://127.0.0.1:1/nothing-listens", {"text": "x"}, timeout_s=1) is False


def test_report_matches_alerts_to_incidents():
    incs = [Incident("a", "cpu_spike", 10_000, 20_000), Incident("b", "memory_leak", 10_000, 20_000)]
    alerts = [anomaly("a", 12_000), anomaly("c", 12_000), anomaly("b", 45_000)]
    r = score_alerts(incs, alerts, events=100, entities=3, grace_s=30)
    assert (r["detected_incidents"], r["false_alerts"], r["precision"], r["recall"]) == (2, 1, 0.6667, 1.0)
    assert r["median_detection_delay_s"] == 18.5 and r["recall_by_type"] == {
        "cpu_spike": 1.0,
        "memory_leak": 1.0,
    }
    r = score_alerts(incs, alerts, events=100, entities=3, grace_s=10)
    assert r["recall_by_type"]["memory_leak"] == 0.0


class _Msg:
    def __init__(self, value, error=None):
        self._value = value
        self._error = error

    def error(self):
        return self._error

    def value(self):
        return self._value


class _Batches:
    """A consumer twin handing out fixed batches (the real broker is in the test below)."""

    def __init__(self, *batches, commit_error=None):
        self.batches = [[v if isinstance(v, _Msg) else _Msg(v) for v in b] for b in batches]
        self.commits = 0
        self.commit_error = commit_error

    def consume(self, n, timeout):
        return self.batches.pop(0) if self.batches else []

    def commit(self, asynchronous=True):
        if self.commit_error is not None:
            raise self.commit_error
        self.commits += 1


def test_records_that_are_not_anomalies_are_counted_and_skipped():
    good = json.dumps(anomaly("a", 1_000)).encode()
    bad = [
        b"not json",
        b'"a string"',
        b"[1, 2]",
        json.dumps({"status": "anomaly", "score": 3}).encode(),  # no key, no event time
        json.dumps(dict(anomaly("b", 1_000), event_time_ms="soon")).encode(),
        json.dumps({k: v for k, v in anomaly("c", 1_000).items() if k != "severity"}).encode(),
        json.dumps(dict(anomaly("d", 1_000), contributors=[{"metric": "cpu_usage"}])).encode(),
        None,
    ]
    seen: list[dict] = []
    fake = _Batches(bad, [good])
    c = AlertConsumer("unused", "t", 120, on_alert=seen.append, group_id="g", consumer=fake)
    c.poll_once()
    c.poll_once()
    assert c.bad_records == len(bad) and [a["key"] for a in seen] == ["a"]
    assert fake.commits == 2  # each handled batch is committed


def test_a_batch_of_errors_commits_nothing_and_a_failed_commit_does_not_stop_the_alerts():
    errors_only = _Batches([_Msg(None, error="partition EOF")])
    c = AlertConsumer("unused", "t", 120, on_alert=lambda a: None, group_id="g", consumer=errors_only)
    c.poll_once()
    assert errors_only.commits == 0  # nothing handled: a commit would fail with "no offset stored"
    seen: list[dict] = []
    failing = _Batches([json.dumps(anomaly("a", 1_000)).encode()], commit_error=RuntimeError("not in group"))
    c = AlertConsumer("unused", "t", 120, on_alert=seen.append, group_id="g", consumer=failing)
    c.poll_once()
    assert [a["key"] for a in seen] == ["a"]


def test_a_failed_webhook_post_is_retried():
    statuses = [500, 200]

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(statuses.pop(0))
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)

    def serve_two():
        srv.handle_request()
        srv.handle_request()

    t = threading.Thread(target=serve_two)
    t.start()
    assert post_webhook(f"http://127.0.0.1:{srv.server_port}/hook", {"text": "hi"}, attempts=2)
    t.join(10)
    srv.server_close()
    assert statuses == []


FAST_GROUP = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}
"""A group join takes ~23 s on the embedded broker with the 45 s default session timeout, ~3 s with this."""


def test_a_restarted_alert_consumer_goes_on_where_it_stopped(stack):
    """Real broker: the consumer group's committed offsets keep old anomalies from alerting again."""
    from embedded.kafka import create_topics, produce_json, producer

    create_topics(stack.bootstrap, ["anomalies"], partitions=1)
    prod = producer(stack.bootstrap)
    produce_json(prod, "anomalies", [anomaly("a", 1_000), anomaly("b", 1_000)])

    def alerts_until(n, timeout_s=60):
        seen: list[dict] = []
        c = AlertConsumer(
            stack.bootstrap,
            "anomalies",
            120,
            on_alert=seen.append,
            group_id="alerts",
            client=FAST_GROUP,
        )
        deadline = time.time() + timeout_s
        try:
            while len(seen) < n and time.time() < deadline:
                c.poll_once()
            c.poll_once(1.0)  # nothing more arrives
        finally:
            c.close()
        return [a["key"] for a in seen]

    assert alerts_until(2) == ["a", "b"]
    produce_json(prod, "anomalies", [anomaly("c", 1_000)])
    del prod
    assert alerts_until(1) == ["c"]
