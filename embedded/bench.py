"""``make bench``: throughput against PyFlink's own ceiling, end-to-end latency, scoring cost, state size.

Everything runs here, in one go, on the embedded broker and redis-server, and is written to
``reports/bench.json`` (see docs/performance.md for what each figure means and how it is measured).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from detector import drift
from detector.config import Config, load_config
from detector.engine import EntityDetector, featurize
from detector.events import MetricEvent
from detector.model_store import load_model
from embedded.job import ROOT, JobProcess, ensure_model
from embedded.kafka import assign_from_start, create_topics, produce_one, producer
from embedded.services import LocalStack
from generator.simulate import Fleet, FleetSpec
from training.data import simulated_events

TOPICS = ("system-metrics", "anomalies", "anomaly-scores", "metrics-dlq", "metrics-late")


def say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def process_tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(parts[1]), []).append(int(d))
            rss[int(d)] = int(parts[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def preload(bootstrap: str, topic: str, hosts: int, steps: int, incidents: int) -> int:
    """Produce ``hosts * steps`` wide events with labelled incidents; returns the count."""
    fleet = Fleet(FleetSpec(hosts=hosts, seed=4242))
    t0 = 1_795_000_000_000
    fleet.schedule_incidents(40, steps, incidents, t0)
    prod = producer(bootstrap, **{"linger.ms": 50, "batch.num.messages": 10000})
    n = 0
    for s in range(steps):
        for ev in fleet.events_at(t0 + s * 1000):
            produce_one(prod, topic, json.dumps(ev).encode(), ev["host"].encode())
            n += 1
        prod.poll(0)
        if s % 10 == 0:
            sys.stdout.write(f"\r[bench] preloading {n:,}/{hosts * steps:,} events")
            sys.stdout.flush()
    prod.flush(60)
    print(flush=True)
    return n


def measure_throughput(
    cfg: Config, module: str, name: str, bootstrap: str, total: int, budget_s: float, run_dir: Path
) -> dict[str, Any]:
    """Run a job on the preloaded topic; events/s between its first and last progress markers."""
    cfg = copy.deepcopy(cfg)
    cfg.kafka.group_id = f"bench-{name}-{time.time_ns()}"
    cfg.kafka.progress_topic = f"bench-progress-{name}"
    create_topics(bootstrap, [cfg.kafka.progress_topic], partitions=1)
    job = JobProcess(cfg, run_dir / f"{name}.log", module=module)
    consumer = assign_from_start(bootstrap, cfg.kafka.progress_topic)
    first: dict[int, dict] = {}
    last: dict[int, dict] = {}
    peak_rss = 0
    deadline = time.time() + budget_s + 60  # + start-up
    started_at: float | None = None
    try:
        while time.time() < deadline:
            if not job.alive():
                raise RuntimeError(f"{name}: job exited; see {job.log_path}")
            for msg in consumer.consume(1000, 0.5):
                if msg.error():
                    continue
                m = json.loads(msg.value())
                first.setdefault(m["subtask"], m)
                if m["count"] >= last.get(m["subtask"], {"count": -1})["count"]:
                    last[m["subtask"]] = m
            peak_rss = max(peak_rss, process_tree_rss(job.proc.pid))
            done = sum(m["count"] for m in last.values())
            if first and started_at is None:
                started_at = time.time()
                deadline = started_at + budget_s
            sys.stdout.write(f"\r[bench] {name}: {done:,}/{total:,} events, {len(last)} subtasks reporting")
            sys.stdout.flush()
            if done >= total * 0.99:
                break
    finally:
        consumer.close()
        job.stop()
    print(flush=True)
    if not first:
        raise RuntimeError(f"{name}: no progress within the budget; see {job.log_path}")
    n = sum(m["count"] for m in last.values()) - sum(m["count"] for m in first.values())
    span_ms = max(m["t_ms"] for m in last.values()) - min(m["t_ms"] for m in first.values())
    return {
        "eps": round(n / (span_ms / 1000.0), 1),
        "events_measured": n,
        "peak_rss_mb": round(peak_rss / 2**20),
    }


def measure_latency(
    cfg: Config, bootstrap: str, rate_eps: float, seconds: float, run_dir: Path
) -> dict[str, Any]:
    """Steady load at ``rate_eps`` with incidents; latency = time an anomaly record is read from the
    anomalies topic - time its event was produced (both on this machine's clock)."""
    cfg = copy.deepcopy(cfg)
    cfg.kafka.input_topic = "bench-latency-input"
    cfg.kafka.anomalies_topic = "bench-latency-anomalies"
    cfg.kafka.group_id = f"bench-latency-{time.time_ns()}"
    cfg.job.progress_every = 500
    cfg.kafka.progress_topic = "bench-latency-progress"
    create_topics(bootstrap, [cfg.kafka.input_topic, cfg.kafka.anomalies_topic])
    create_topics(bootstrap, [cfg.kafka.progress_topic], partitions=1)
    hosts = 500
    fleet = Fleet(FleetSpec(hosts=hosts, seed=77, incident_duration_steps=20))
    step_s = hosts / rate_eps  # event-time step = one round over all hosts at the target rate
    step_ms = max(int(step_s * 1000), 1)
    warm = cfg.window.warmup + 2
    now_ms = int(time.time() * 1000)
    t0 = now_ms - warm * step_ms
    live_steps = int(seconds / step_s)
    fleet.schedule_incidents(warm + 3, warm + live_steps, max(live_steps // 25, 2) * 4, t0)
    prod = producer(bootstrap, **{"linger.ms": 0})
    for s in range(warm):  # back-filled history so entities are past warm-up
        for ev in fleet.events_at(t0 + s * step_ms):
            prod.produce(cfg.kafka.input_topic, json.dumps(ev).encode(), key=ev["host"].encode())
        prod.poll(0)
    prod.flush(30)
    job = JobProcess(cfg, run_dir / "latency.log")
    consumer = assign_from_start(bootstrap, cfg.kafka.anomalies_topic, **{"fetch.wait.max.ms": 5})
    sent: dict[tuple[str, int], float] = {}
    latencies: list[float] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for msg in consumer.consume(1000, 0.05):
                if msg.error():
                    continue
                t = time.time()
                r = json.loads(msg.value())
                k = (r["key"], r["event_time_ms"])
                if k in sent:
                    latencies.append((t - sent[k]) * 1000)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    produced = 0
    try:
        # the clock starts once the job has consumed the back-fill (no backlog in the measurement)
        progress = assign_from_start(bootstrap, cfg.kafka.progress_topic)
        done, deadline = 0, time.time() + 180
        while done < warm * hosts and time.time() < deadline and job.alive():
            for msg in progress.consume(100, 0.2):
                if not msg.error():
                    done = max(done, json.loads(msg.value())["count"])
        progress.close()
        say(f"latency: {rate_eps:.0f} events/s for {seconds:.0f} s, {len(fleet.incidents)} incidents")
        t_start = time.time()
        for s in range(live_steps):
            ts = t0 + (warm + s) * step_ms
            for h in fleet.hosts:
                target = t_start + produced / rate_eps
                delay = target - time.time()
                if delay > 0:
                    time.sleep(delay)
                ev = {"timestamp": ts, "host": h.host, "service": h.service, **fleet.values(h, ts)}
                sent[(h.key, ts)] = time.time()
                prod.produce(cfg.kafka.input_topic, json.dumps(ev).encode(), key=h.host.encode())
                prod.poll(0)
                produced += 1
            if not job.alive():
                raise RuntimeError(f"latency job exited; see {job.log_path}")
        prod.flush(10)
        elapsed = time.time() - t_start
        # drain: a job slower than the load delivers late; wait until anomalies stop arriving
        quiet_since, seen = time.time(), -1
        while time.time() - quiet_since < 20 and time.time() - t_start < seconds + 150:
            if len(latencies) != seen:
                seen, quiet_since = len(latencies), time.time()
            time.sleep(0.5)
    finally:
        stop.set()
        reader.join(5)
        consumer.close()
        job.stop()
    if not latencies:
        raise RuntimeError(f"no anomaly records during the latency run; see {job.log_path}")
    lat = np.array(latencies)
    return {
        "p50": round(float(np.percentile(lat, 50)), 1),
        "p99": round(float(np.percentile(lat, 99)), 1),
        "max": round(float(lat.max()), 1),
        "samples": len(lat),
        "produced_eps": round(produced / elapsed, 1),
    }


def measure_scoring(cfg: Config, model_dir: Path) -> dict[str, Any]:
    """Per-event cost of the job's scoring path vs the reference libraries called per event."""
    import joblib
    import keras

    model, manifest = load_model(model_dir)  # verified before the pickles below are opened
    x, _, _ = featurize(simulated_events(FleetSpec(hosts=20, seed=3), 60, 1_800_000_000_000, cfg), cfg)
    rows = [x[i] for i in range(min(len(x), 500))]
    # with a drift offset where the job keeps one (its add per pair and the residual it returns)
    offset = np.zeros(x.shape[1]) if drift.applies(model, cfg.window.drift_halflife_h) else None
    for r in rows[:20]:  # load the compiled kernels before timing (a fresh checkout compiles them here)
        model.score(r, offset)
    t0 = time.perf_counter()
    for _ in range(4):
        for r in rows:
            model.score(r, offset)
    ours = (time.perf_counter() - t0) / (4 * len(rows)) * 1e6
    root = Path(manifest["path"])
    refs = []  # per pair: its serving arrays, the reference autoencoder, its latent model and forest
    for i, pair in enumerate([model, *model.peers]):
        suffix = f"_peer{i}" if i else ""
        ae = keras.models.load_model(root / f"autoencoder{suffix}.keras")
        z_model = keras.Model(ae.inputs, ae.get_layer("latent").output)
        refs.append((pair, ae, z_model, joblib.load(root / f"iforest{suffix}.joblib")))
    ref_rows = rows[:100]
    for pair, ae, z_model, _ in refs:
        for r in rows[:5]:  # warm up the predict functions before timing
            z_model.predict(pair.transform(r[None]), verbose=0)
            ae.predict(pair.transform(r[None]), verbose=0)
    t0 = time.perf_counter()
    for r in ref_rows:
        for pair, ae, z_model, forest in refs:
            xs = pair.transform(r[None])
            recon = ae.predict(xs, verbose=0)
            z = z_model.predict(xs, verbose=0)
            log_err = np.log(np.mean((xs - recon) ** 2, axis=1) + 1e-9)
            forest.score_samples(np.column_stack([z, log_err]))
    ref = (time.perf_counter() - t0) / len(ref_rows) * 1e6
    return {
        "pairs": model.members,
        "score_us_per_event": round(ours, 1),
        "sklearn_keras_us_per_event": round(ref, 1),
        "speedup": round(ref / ours, 1),
    }


def measure_state(cfg: Config, model_dir: Path, entities: int = 100_000) -> dict[str, Any]:
    """Serialized keyed-state bytes per entity (what the job stores in MapState), from real warm states.

    The layout is fixed (header + float32 ring and statistics), so the size does not depend on how many
    entities there are; the total for ``entities`` entities is derived from it."""
    model, _ = load_model(model_dir)
    det = EntityDetector(cfg, model)
    fleet = Fleet(FleetSpec(hosts=200, seed=5))
    states: dict[str, Any] = {}
    for ev in fleet.events(1_800_000_000_000, cfg.window.long + 2):
        key = f"{ev['host']}/{ev['service']}"
        st = states.setdefault(key, det.new_state())
        det.step(st, MetricEvent(key, ev["timestamp"], {m: ev[m] for m in cfg.stream.metrics}), 0)
    sizes = {len(s.to_bytes()) for s in states.values()}
    if len(sizes) != 1:
        raise RuntimeError(f"entity state sizes differ: {sorted(sizes)}")
    size = sizes.pop()
    return {
        "state_bytes_per_key": size,
        "states_measured": len(states),
        "state_mb_at_100k_entities": round(size * entities / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--hosts", type=int, default=10_000)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--budget", type=float, default=75.0, help="seconds each throughput run may take")
    p.add_argument("--latency-seconds", type=float, default=30.0)
    p.add_argument(
        "--latency-rate", type=float, help="events/s of the latency run (default: half of pipeline_eps)"
    )
    p.add_argument("--mode", default="process", choices=["process", "thread"])
    p.add_argument("--report", type=Path, default=ROOT / "reports/bench.json")
    p.add_argument(
        "--skip", default="", help="comma list of phases to skip: passthrough,pipeline,scaling,latency"
    )
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    args = p.parse_args(argv)
    skip = set(args.skip.split(",")) - {""}
    cfg = load_config(None, args.set)
    run_dir = ROOT / ".run/bench"
    t_all = time.time()
    model_dir = ensure_model(ROOT / "models", cfg, run_dir / "train.log")
    report: dict[str, Any] = {
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
        "workload": {
            "events": args.hosts * args.steps,
            "entities": args.hosts,
            "metrics": len(cfg.stream.metrics),
        },
        "execution_mode": args.mode,
        "model_version": model_dir.name,
    }
    say("scoring path vs reference libraries (in-process)")
    report.update(measure_scoring(cfg, model_dir))
    report.update(measure_state(cfg, model_dir))
    with LocalStack(run_dir) as stack:
        create_topics(stack.bootstrap, TOPICS)
        total = preload(
            stack.bootstrap, "system-metrics", args.hosts, args.steps, incidents=args.hosts // 200
        )
        base = load_config(None, args.set)
        base.kafka.bootstrap_servers = stack.bootstrap
        base.redis.port = stack.redis_port
        base.job.model_dir = str(model_dir)
        base.job.execution_mode = args.mode
        base.job.progress_every = 20_000
        base.job.emit_scores = False
        base.job.checkpoint_interval_ms = 10_000
        if "passthrough" not in skip:
            r = measure_throughput(
                base, "jobs.passthrough", "passthrough-p1", stack.bootstrap, total, args.budget, run_dir
            )
            report["passthrough_eps"] = r["eps"]
            report["passthrough_peak_rss_mb"] = r["peak_rss_mb"]
        if "pipeline" not in skip:
            r = measure_throughput(
                base, "jobs.detect", "pipeline-p1", stack.bootstrap, total, args.budget, run_dir
            )
            report["pipeline_eps"] = r["eps"]
            report["peak_rss_mb"] = r["peak_rss_mb"]
            if "passthrough_eps" in report:
                report["ratio"] = round(report["pipeline_eps"] / report["passthrough_eps"], 3)
        if "scaling" not in skip and "pipeline_eps" in report:
            p2 = copy.deepcopy(base)
            p2.job.parallelism = 2
            r = measure_throughput(
                p2, "jobs.detect", "pipeline-p2", stack.bootstrap, total, args.budget, run_dir
            )
            report["parallelism_scaling"] = {
                "1": report["pipeline_eps"],
                "2": r["eps"],
                "speedup": round(r["eps"] / report["pipeline_eps"], 2),
            }
        if "latency" not in skip and ("pipeline_eps" in report or args.latency_rate):
            rate = args.latency_rate or report["pipeline_eps"] / 2
            report["latency_load_eps"] = round(rate, 1)
            try:
                report["latency_ms"] = measure_latency(
                    base, stack.bootstrap, rate, args.latency_seconds, run_dir
                )
            except RuntimeError as e:  # report what failed, keep the other figures
                report["latency_ms"] = {"error": str(e)}
    report["bench_seconds"] = round(time.time() - t_all, 1)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    say(f"report written to {args.report}")
    return 0


def print_table(r: dict[str, Any]) -> None:
    rows = [
        ("passthrough_eps", r.get("passthrough_eps"), ""),
        ("pipeline_eps", r.get("pipeline_eps"), ""),
        ("ratio", r.get("ratio"), ">= 0.5"),
        (
            "latency p50 / p99 (ms)",
            f"{r.get('latency_ms', {}).get('p50')} / {r.get('latency_ms', {}).get('p99')}",
            "p99 <= 100",
        ),
        ("score_us_per_event", r.get("score_us_per_event"), "<= 50"),
        ("sklearn_keras_us_per_event", r.get("sklearn_keras_us_per_event"), ">= 50x ours"),
        ("state_bytes_per_key", r.get("state_bytes_per_key"), "<= 2048"),
        ("parallelism 2 / 1", r.get("parallelism_scaling", {}).get("speedup"), ">= 1.6"),
        ("peak RSS of the job (MB)", r.get("peak_rss_mb"), ""),
        ("bench seconds", r.get("bench_seconds"), "< 600"),
    ]
    print(f"\n{'measure':32s}{'value':>18s}  target")
    for name, value, target in rows:
        print(f"{name:32s}{value!s:>18s}  {target}")


if __name__ == "__main__":
    sys.exit(main())
