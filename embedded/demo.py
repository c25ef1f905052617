"""``make demo``: everything on one machine with real parts, watching injected incidents get caught.

Broker + redis-server + a model (trained on simulated normal history, reused if present) + the PyFlink
job on a MiniCluster + the live generator + the alert consumer, with a one-line status. Stops by
itself after ``--duration`` seconds (or on Ctrl-C), stops every process it started, prints a summary
and writes ``reports/demo.json`` (the model's figures, and the static-threshold baseline's beside them).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from alerting.consumer import AlertConsumer
from alerting.dedupe import AlertDeduper, format_alert
from detector.baseline import StaticThresholds
from detector.config import load_config
from detector.events import parse_event
from embedded.job import ROOT, JobProcess, ensure_model
from embedded.kafka import create_topics, produce_one, producer
from embedded.report import score_alerts
from embedded.services import LocalStack
from generator.live import LiveRun, run_live
from generator.simulate import FleetSpec
from training.data import simulated_events

TRAINING_SPEC = FleetSpec(hosts=60, seed=42)  # what training.cli --source simulated uses by default


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=120.0, help="seconds of live traffic before stopping")
    p.add_argument("--hosts", type=int, default=100)
    p.add_argument("--incidents", type=int, default=10)
    p.add_argument("--parallelism", type=int, default=1)
    p.add_argument("--models", type=Path, default=ROOT / "models")
    p.add_argument("--report", type=Path, default=ROOT / "reports/demo.json")
    p.add_argument("--config")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    args = p.parse_args(argv)
    if args.duration < 60:
        p.error("--duration must be at least 60 s (the job needs ~20 s to start and incidents need time)")
    cfg = load_config(args.config, args.set)
    run_dir = ROOT / ".run/demo"
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    print("[demo] model ...", flush=True)
    model_dir = ensure_model(args.models, cfg, run_dir / "train.log")
    print(f"[demo] model {model_dir.name}", flush=True)
    stack = LocalStack(run_dir)
    job: JobProcess | None = None
    consumer: AlertConsumer | None = None
    prod = None
    try:
        stack.start()
        print(f"[demo] broker {stack.bootstrap}, redis-server 127.0.0.1:{stack.redis_port}", flush=True)
        k = cfg.kafka
        create_topics(
            stack.bootstrap, [k.input_topic, k.anomalies_topic, k.scores_topic, k.dlq_topic, k.late_topic]
        )
        cfg.kafka.bootstrap_servers = stack.bootstrap
        cfg.redis.port = stack.redis_port
        cfg.job.model_dir = str(model_dir)
        cfg.job.parallelism = args.parallelism
        job = JobProcess(cfg, run_dir / "job.log")
        print(f"[demo] detection job started (pid {job.proc.pid}); log: {job.log_path}", flush=True)

        prod = producer(stack.bootstrap)
        labels = cfg.stream.entity_labels

        def send(ev: dict) -> None:
            key = "/".join(str(ev[label]) for label in labels)
            produce_one(prod, k.input_topic, json.dumps(ev).encode(), key.encode())
            prod.poll(0)

        live = LiveRun()
        spec = FleetSpec(hosts=args.hosts, seed=2026)
        gen = threading.Thread(
            target=run_live,
            kwargs=dict(
                send=send,
                spec=spec,
                duration_s=args.duration - 15,
                incidents=args.incidents,
                labels_path=run_dir / "incidents.json",
                stop=stop,
                run=live,
                keep_events=True,
            ),
            daemon=True,
        )
        gen.start()
        consumer = AlertConsumer(
            stack.bootstrap,
            k.anomalies_topic,
            cfg.alert.cooldown_s,
            cfg.alert.webhook_url,
            on_alert=lambda a: print("\r\033[K[alert] " + format_alert(a), flush=True),
        )
        t_end = time.time() + args.duration
        last_count, last_t = 0, time.time()
        while not stop.is_set() and time.time() < t_end:
            if not job.alive():
                print(f"\n[demo] the job exited ({job.proc.returncode}); see {job.log_path}", flush=True)
                return 1
            consumer.poll_once(0.5)
            now = time.time()
            if now - last_t >= 1.0:
                rate = (live.produced - last_count) / (now - last_t)
                last_count, last_t = live.produced, now
                caught = score_alerts(live.incidents, consumer.alerts, live.produced, args.hosts)
                started = sum(1 for i in live.incidents if i.start_ms <= now * 1000)
                sys.stdout.write(
                    f"\r\033[K[demo] {int(t_end - now):4d}s left | {rate:6.0f} events/s | "
                    f"{args.hosts} entities | {len(consumer.alerts)} alerts | "
                    f"incidents caught {caught['detected_incidents']}/{started} started"
                )
                sys.stdout.flush()
        stop.set()
        gen.join(5)
        for _ in range(6):  # drain alerts still in flight
            consumer.poll_once(0.5)
        print(flush=True)
    finally:
        stop.set()
        if prod is not None:
            prod.flush(5)
            del prod  # before the broker stops, or librdkafka logs reconnect errors
        if consumer is not None:
            consumer.close()
        if job is not None:
            job.stop()
        stack.stop()

    assert consumer is not None
    events = [parse_event(json.dumps(e), cfg.stream.entity_labels, cfg.stream.metrics) for e in live.events]
    for a in consumer.alerts:
        a["detected_at_ms"] = a.get("received_at_ms", a["event_time_ms"])
    report = score_alerts(live.incidents, consumer.alerts, len(events), args.hosts)
    baseline = StaticThresholds(list(cfg.stream.metrics)).fit(
        simulated_events(TRAINING_SPEC, 900, 1_700_000_000_000, cfg)
    )
    dedupe = AlertDeduper(cfg.alert.cooldown_s)
    base_alerts = [a for a in baseline.detect(events) if dedupe.offer(a)]
    report["model_version"] = model_dir.name
    report["duration_s"] = args.duration
    report["static_threshold_baseline"] = score_alerts(live.incidents, base_alerts, len(events), args.hosts)
    report["static_threshold_baseline"]["median_detection_delay_s"] = None  # event-time only, not comparable
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    print_summary(report)
    print(f"[demo] report written to {args.report}")
    return 0


def print_summary(r: dict) -> None:
    b = r["static_threshold_baseline"]
    rows = [
        ("events", r["events"], b["events"]),
        ("incidents injected", r["injected_incidents"], b["injected_incidents"]),
        ("incidents detected", r["detected_incidents"], b["detected_incidents"]),
        ("alerts", r["alerts"], b["alerts"]),
        ("false alerts", r["false_alerts"], b["false_alerts"]),
        ("precision", r["precision"], b["precision"]),
        ("recall", r["recall"], b["recall"]),
        ("median delay (s)", r["median_detection_delay_s"], "-"),
    ]
    rows += [(f"recall {k}", v, b["recall_by_type"].get(k, 0.0)) for k, v in r["recall_by_type"].items()]
    print(f"\n{'':28s}{'model':>10s}{'static':>10s}")
    for name, m, s in rows:
        print(f"{name:28s}{m!s:>10s}{s!s:>10s}")


if __name__ == "__main__":
    sys.exit(main())
