"""``make chaos``: fault injection on a real standalone Flink cluster, proving exactly-once anomalies.

The same deterministic workload (a simulated fleet with injected incidents) is fed twice to the job
on a JobManager + TaskManager from the apache-flink wheel, with the embedded broker and redis-server:
once with no faults, once while TaskManagers are killed with SIGKILL, redis-server is stopped for a
while, the broker is restarted and malformed, duplicated and far-late records are mixed in. The two
``read_committed`` outputs of the anomalies topic are compared record by record (key, event time,
score) and the findings written to ``reports/chaos.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from detector.config import Config, load_config
from detector.events import MalformedEvent, parse_event
from embedded.cluster import StandaloneCluster
from embedded.job import ensure_model
from embedded.kafka import create_topics, drain_topic, produce_one, producer
from embedded.s3 import S3Server
from embedded.services import LocalStack
from generator.simulate import Fleet, FleetSpec

ROOT = Path(__file__).resolve().parents[1]
T0_MS = 1_790_000_000_000
DAY_MS = 86_400_000


@dataclass
class ChaosPlan:
    """What the fault run does; the defaults are ``make chaos``."""

    hosts: int = 40
    steps: int = 360
    incidents: int = 8
    produce_s: float = 180.0
    """The faulty run spreads its events over this long, so faults land while data flows."""
    taskmanager_kills: int = 3
    redis_outage_s: float = 30.0
    broker_restart: bool = True
    broker_storage: str = "s3"
    """s3 (a local moto S3 server: survives a broker restart, and lets the run read the stored log with
    read_committed rules) or memory (no broker restart possible)."""
    malformed_bursts: int = 3
    late_per_burst: int = 10
    """Duplicated and far-late (one day old) copies of good events per burst."""
    seed: int = 11
    timeout_s: float = 600.0


QUICK = ChaosPlan(
    hosts=20,
    steps=150,
    incidents=4,
    produce_s=45,
    taskmanager_kills=1,
    redis_outage_s=10,
    broker_restart=False,
    malformed_bursts=1,
)
"""The short run of ``make test`` (tests/test_chaos.py)."""


def malformed_payloads(burst: int, t_ms: int) -> list[bytes]:
    """Hostile inputs: each must be rejected by the parser (checked), none may hurt the job."""
    ok = {"timestamp": t_ms, "host": f"chaos-{burst}", "service": "svc"}

    def j(**fields: Any) -> bytes:
        return json.dumps({**ok, **fields}).encode()

    ts = f'"timestamp": {t_ms}, "host": "h{burst}", "service": "s"'.encode()
    out = [
        b"{not json " + str(burst).encode(),  # invalid JSON
        b"",  # empty
        b"null",
        b"[1, 2, 3]",
        b'"just a string"',
        b"\xff\xfe\xfa not utf-8",
        b"[" * 100_000,  # nesting bomb
        j(timestamp="yesterday", cpu_usage=1.0),  # wrong types
        j(cpu_usage="high"),
        j(cpu_usage=[1, 2]),
        j(cpu_usage={"v": 1}),
        j(timestamp=True, cpu_usage=1.0),
        b"{" + ts + b', "cpu_usage": NaN}',  # NaN / Infinity
        b"{" + ts + b', "cpu_usage": Infinity}',
        b"{" + ts + b', "memory_usage": -Infinity}',
        b"{" + ts + b', "cpu_usage": 1e300}',  # huge numbers
        b"{" + ts + b', "cpu_usage": 1' + b"0" * 400 + b"}",
        j(timestamp=1e30, cpu_usage=1.0),
        json.dumps({"host": "h", "service": "s", "cpu_usage": 1.0}).encode(),  # missing fields
        json.dumps({"timestamp": t_ms, "service": "s", "cpu_usage": 1.0}).encode(),
        j(unknown_metric=1.0, another=2),  # only unknown fields
        j(host="x" * 300, cpu_usage=1.0),
        j(pad="x" * 1_000_000, cpu_usage=1.0),  # 1 MB
        j(cpu_usage=None, memory_usage=None),
    ]
    for p in out:
        try:
            parse_event(p, ["host", "service"], ["cpu_usage", "memory_usage"])
        except MalformedEvent:
            continue
        raise AssertionError(f"chaos payload parses, it would change the output: {p[:80]!r}")
    return out


def compare(fault_free: list[dict], with_faults: list[dict]) -> dict[str, int]:
    """Record-by-record comparison of two anomaly outputs on (key, event time, score)."""

    def ident(a: dict) -> tuple:
        return (a["key"], a["event_time_ms"], a["score"])

    a = Counter(ident(r) for r in fault_free)
    b = Counter(ident(r) for r in with_faults)
    return {
        "lost": sum(max(0, n - b[x]) for x, n in a.items()),
        "duplicates": sum(max(0, b[x] - n) for x, n in a.items()),
        "extra": sum(n for x, n in b.items() if x not in a),
    }


@dataclass
class RunResult:
    anomalies: list[dict]
    """read_committed as the broker serves it."""
    scores: list[dict]
    dlq: list[bytes]
    late: list[bytes]
    job_id: str
    log_anomalies: list[dict] | None = None
    """read_committed applied to the broker's stored log (s3 storage only; see embedded/tansu_log.py)."""
    log_dlq: list[bytes] | None = None
    log_late: list[bytes] | None = None
    aborted_skipped: int = 0
    restarts: int = 0
    job_state: str = ""


class Chaos:
    def __init__(self, plan: ChaosPlan, run_dir: Path, say: Callable[[str], None]):
        self.plan = plan
        self.run_dir = run_dir
        self.say = say
        self.rng = random.Random(plan.seed)
        fleet = Fleet(FleetSpec(hosts=plan.hosts, seed=plan.seed))
        fleet.schedule_incidents(40, plan.steps, plan.incidents, T0_MS)
        events = list(fleet.events(T0_MS, plan.steps))
        self.events = [json.dumps(e).encode() for e in events]
        self.event_keys = [e["host"].encode() for e in events]
        self.hosts = [h.host for h in fleet.hosts]
        self.secret = secrets.token_urlsafe(24)
        self.malformed_sent: list[bytes] = []
        self.bursts = 0
        self.late_sent = 0
        self.log: list[str] = []
        self.reader: dict[str, Any] = {}  # extra consumer settings of the harness's readers
        self.producer_extra: dict[str, Any] = {}
        self.s3_endpoint = ""

    def note(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        self.log.append(line)
        self.say(msg)

    # ---------------------------------------------------------------- setup
    def config(self, stack: LocalStack, tag: str, models: Path) -> tuple[Config, Path]:
        cfg = load_config(env={})
        k = cfg.kafka
        k.bootstrap_servers = stack.bootstrap
        k.input_topic, k.anomalies_topic, k.scores_topic = f"in-{tag}", f"anomalies-{tag}", f"scores-{tag}"
        k.dlq_topic, k.late_topic = f"dlq-{tag}", f"late-{tag}"
        k.group_id, k.transactional_id_prefix = f"chaos-{tag}", f"chaos-{tag}"
        if stack.broker_storage.startswith("s3://"):
            # Tansu's s3 engine lists the partition's objects inside each fetch; a 10 ms fetch wait
            # expires first and every fetch comes back empty (measured: 0 records at 10-20 ms)
            k.fetch_max_wait_ms = 2000
            k.sink_linger_ms = 200  # fewer, larger batches: one S3 object each
        cfg.redis.port = stack.redis_port
        secret_file = self.run_dir / "redis-password"
        secret_file.write_text(self.secret)
        secret_file.chmod(0o600)
        cfg.redis.password_file = str(secret_file)  # the secret itself is never on a command line
        cfg.job.model_dir = str(models)
        cfg.job.parallelism = 2
        path = self.run_dir / f"job-{tag}.json"
        path.write_text(json.dumps(cfg.to_dict(redact=True), indent=2))  # holds no secret: only its file
        create_topics(
            stack.bootstrap, [k.input_topic, k.anomalies_topic, k.scores_topic, k.dlq_topic, k.late_topic]
        )
        return cfg, path

    # ---------------------------------------------------------------- one run
    def run(
        self, stack: LocalStack, cluster: StandaloneCluster, tag: str, models: Path, faults: bool
    ) -> RunResult:
        plan = self.plan
        cfg, cfg_path = self.config(stack, tag, models)
        k = cfg.kafka
        if faults:
            stack_redis_flush(stack, self.secret)
        job_id = cluster.submit(ROOT / "jobs/detect.py", ["--config", str(cfg_path)])
        cluster.wait_running(job_id)
        self.note(f"run {tag}: job {job_id} running ({'with' if faults else 'no'} faults)")
        expected_rows = plan.hosts * plan.steps
        score_records: dict[tuple[str, int], dict] = {}
        last_read = [0.0]

        def read_scores() -> None:
            """Re-read the scores topic from the start every few seconds (a long-lived reader on the
            embedded broker can be reset past records after a fault: Tansu's ListOffsets quirk)."""
            if time.time() - last_read[0] < 4:
                time.sleep(0.25)
                return
            for v in drain_topic(stack.bootstrap, k.scores_topic, idle_s=1.5, limit_s=30, **self.reader):
                r = json.loads(v)
                score_records[(r["key"], r["event_time_ms"])] = r
            last_read[0] = time.time()

        producer_done = threading.Event()
        pause, paused, resume = threading.Event(), threading.Event(), threading.Event()
        errors: list[BaseException] = []
        interval = plan.produce_s / len(self.events) if faults else 0.0
        burst_at = (
            {
                int(len(self.events) * (i + 1) / (plan.malformed_bursts + 1))
                for i in range(plan.malformed_bursts)
            }
            if faults
            else set()
        )

        def produce() -> None:
            try:
                prod = producer(stack.bootstrap, **self.producer_extra)
                t_start = time.time()
                for i, (payload, key) in enumerate(zip(self.events, self.event_keys, strict=True)):
                    if pause.is_set():
                        prod.flush(60)
                        paused.set()
                        resume.wait()
                        prod = producer(stack.bootstrap, **self.producer_extra)
                    produce_one(prod, k.input_topic, payload, key=key)
                    if i in burst_at:
                        self._burst(prod, k.input_topic, i)
                    if interval:
                        lag = t_start + i * interval - time.time()
                        if lag > 0:
                            prod.poll(0)
                            time.sleep(lag)
                    if i % 5000 == 0:
                        prod.poll(0)
                prod.flush(60)
            except BaseException as e:  # surfaced by the main thread
                errors.append(e)
            finally:
                producer_done.set()

        t0 = time.time()
        feeder = threading.Thread(target=produce, name=f"produce-{tag}", daemon=True)
        feeder.start()
        if faults:
            self._inject(stack, cluster, job_id, t0, pause, paused, resume, read_scores)
        deadline = time.time() + plan.timeout_s
        while time.time() < deadline and not (producer_done.is_set() and len(score_records) >= expected_rows):
            read_scores()
            if errors:
                raise RuntimeError(f"producer failed: {errors[0]}")
        if len(score_records) < expected_rows:
            raise RuntimeError(
                f"run {tag}: {len(score_records)}/{expected_rows} rows scored after {plan.timeout_s}s"
            )
        self.note(f"run {tag}: all {expected_rows} rows scored after {time.time() - t0:.0f}s")
        cluster.wait_committed(job_id, timeout_s=max(deadline - time.time(), 60))
        out = {
            name: drain_topic(stack.bootstrap, topic, **self.reader)
            for name, topic in (
                ("anomalies", k.anomalies_topic),
                ("dlq", k.dlq_topic),
                ("late", k.late_topic),
            )
        }
        stored: dict[str, tuple[list, int]] = {}
        if self.s3_endpoint:
            from embedded.tansu_log import read_topic_from_s3

            for name, topic in (
                ("anomalies", k.anomalies_topic),
                ("dlq", k.dlq_topic),
                ("late", k.late_topic),
            ):
                stored[name] = read_topic_from_s3(self.s3_endpoint, "tansu", topic)
        result = RunResult(
            anomalies=[json.loads(v) for v in out["anomalies"]],
            scores=list(score_records.values()),
            dlq=out["dlq"],
            late=out["late"],
            job_id=job_id,
            restarts=cluster.restarts(job_id),
            job_state=cluster.job_state(job_id),
        )
        if stored:
            result.log_anomalies = [json.loads(r.value or b"") for r in stored["anomalies"][0]]
            result.log_dlq = [r.value or b"" for r in stored["dlq"][0]]
            result.log_late = [r.value or b"" for r in stored["late"][0]]
            result.aborted_skipped = stored["anomalies"][1] + stored["dlq"][1] + stored["late"][1]
        cluster.cancel(job_id)
        self.note(
            f"run {tag}: {len(result.anomalies)} anomalies, {len(result.dlq)} dead letters, "
            f"{len(result.late)} late, {result.restarts} restarts, job {result.job_state}"
        )
        return result

    def _burst(self, prod: Any, topic: str, i: int) -> None:
        """Malformed records (no key), duplicated and one-day-late copies of events already sent."""
        self.bursts += 1
        for p in malformed_payloads(self.bursts, T0_MS):
            produce_one(prod, topic, p)
            self.malformed_sent.append(p)
        for _ in range(self.plan.late_per_burst):
            original = self.events[self.rng.randrange(max(i - len(self.hosts), 0), i + 1)]
            event = json.loads(original)
            host = event["host"].encode()
            if self.rng.random() < 0.5:
                produce_one(prod, topic, original, key=host)  # duplicate
            else:
                event["timestamp"] -= DAY_MS  # far late
                produce_one(prod, topic, json.dumps(event).encode(), key=host)
            self.late_sent += 1
        self.note(f"malformed burst {self.bursts} sent")

    def _inject(
        self,
        stack: LocalStack,
        cluster: StandaloneCluster,
        job_id: str,
        t0: float,
        pause: threading.Event,
        paused: threading.Event,
        resume: threading.Event,
        tick: Callable[[], None],
    ) -> None:
        plan, rng, span = self.plan, self.rng, self.plan.produce_s
        schedule: list[tuple[float, str]] = []
        kill_windows = [(0.08, 0.18), (0.48, 0.56), (0.78, 0.9)]
        for j in range(plan.taskmanager_kills):
            lo, hi = kill_windows[j] if j < len(kill_windows) else (0.9, 0.98)
            schedule.append((rng.uniform(lo, hi) * span, "kill_taskmanager"))
        if plan.redis_outage_s > 0:
            at = rng.uniform(0.22, 0.27) * span
            schedule += [(at, "redis_stop"), (at + plan.redis_outage_s, "redis_start")]
        if plan.broker_restart:
            schedule.append((rng.uniform(0.62, 0.7) * span, "broker_restart"))
        schedule.sort()
        self.kills = self.broker_restarts = 0
        self.checkpoint_at_kill = 0
        self.redis_down_s = 0.0
        redis_svc = None
        redis_stopped_at = 0.0
        for at, action in schedule:
            while time.time() - t0 < at:
                tick()
            if action == "kill_taskmanager":
                # a kill only proves something once the job runs again and has a checkpoint to restore
                cluster.wait_running(job_id, checkpoints_after=self.checkpoint_at_kill)
                self.checkpoint_at_kill = cluster.checkpoints_completed(job_id)
                pid = cluster.kill_taskmanager()
                cluster.start_taskmanager()
                self.kills += 1
                self.note(f"kill -9 TaskManager pid {pid} at t={at:.0f}s; replacement started")
            elif action == "redis_stop":
                redis_svc = stack.stop_service("redis")
                redis_stopped_at = time.time()
                self.note(f"redis-server stopped at t={at:.0f}s")
            elif action == "redis_start" and redis_svc is not None:
                stack.start_again(redis_svc)
                self.redis_down_s = time.time() - redis_stopped_at
                self.note(f"redis-server back after {self.redis_down_s:.0f}s")
            elif action == "broker_restart":
                pause.set()
                paused.wait(120)
                broker = stack.stop_service("broker", hard=True)
                time.sleep(2)
                stack.start_again(broker)
                pause.clear()
                resume.set()
                self.broker_restarts += 1
                self.note(f"broker kill -9 + restart at t={at:.0f}s")


def stack_redis_flush(stack: LocalStack, password: str) -> None:
    import redis

    redis.Redis(port=stack.redis_port, password=password).flushall()


def history_check(stack: LocalStack, password: str, expected: set[tuple[str, int]]) -> dict[str, Any]:
    """Which scored rows of the fault run are missing from the Redis feature history."""
    from detector.config import RedisConfig
    from feature_store.store import RedisFeatureStore

    store = RedisFeatureStore(RedisConfig(port=stack.redis_port, password=password, socket_timeout_s=10))
    got = {(r.entity, r.timestamp_ms) for r in store.read_history()}
    missing = expected - got
    return {"expected": len(expected), "present": len(expected & got), "missing": len(missing)}


def secret_in_logs(run_dir: Path, secret: str) -> list[str]:
    """Log files under ``run_dir`` that contain the secret."""
    logs = (
        f
        for f in run_dir.rglob("*")
        if f.is_file() and (f.suffix in (".log", ".out") or f.parent.name == "log")
    )
    return [str(f) for f in logs if secret.encode() in f.read_bytes()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="reports/chaos.json")
    p.add_argument("--run-dir", default=".cache/chaos")
    p.add_argument("--quick", action="store_true", help="short version for make test: 1 kill, no outages")
    for name, value in asdict(ChaosPlan()).items():
        kind = (lambda v: v.lower() in ("1", "true", "yes")) if isinstance(value, bool) else type(value)
        p.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None, metavar=type(value).__name__)
    args = p.parse_args(argv)
    plan = QUICK if args.quick else ChaosPlan()
    for name in asdict(plan):
        if getattr(args, name) is not None:
            setattr(plan, name, getattr(args, name))
    run_dir = (Path(args.run_dir) / time.strftime("%Y%m%d-%H%M%S")).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    report = run_chaos(plan, run_dir, lambda m: print(f"[chaos] {m}", file=sys.stderr, flush=True))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("timeline", "plan")}, indent=2))
    ok = report["passed"]
    print(f"[chaos] {'PASSED' if ok else 'FAILED'}; report in {out}, logs in {run_dir}", file=sys.stderr)
    return 0 if ok else 1


def run_chaos(
    plan: ChaosPlan, run_dir: Path, say: Callable[[str], None], models: Path = ROOT / "models"
) -> dict[str, Any]:
    """Both runs on one cluster and stack; the report dict. ``models`` is a root of model versions."""
    started = time.time()
    chaos = Chaos(plan, run_dir, say)
    cfg: Config = load_config(env={})
    say("checking the model (trains one on first use, ~1-2 min)")
    ensure_model(models, cfg, run_dir / "train.log")
    if plan.broker_restart and plan.broker_storage != "s3":
        raise ValueError("a broker restart needs broker_storage=s3 (memory storage dies with the broker)")
    s3 = S3Server(run_dir / "s3") if plan.broker_storage == "s3" else None
    storage, env = ("memory://tansu/", None) if s3 is None else s3.start()
    try:
        with LocalStack(
            run_dir / "stack",
            broker_storage=storage,
            broker_env=env,
            redis_password=chaos.secret,
            redis_persist=True,
        ) as stack:
            cluster = StandaloneCluster(
                run_dir / "flink",
                extra_conf={"heartbeat.interval": "1000", "heartbeat.timeout": "6000"},
            )
            if s3 is not None and env is not None:
                chaos.s3_endpoint = env["AWS_ENDPOINT"]
                chaos.reader = {"fetch.wait.max.ms": 2000}
                chaos.producer_extra = {"linger.ms": 200}
            with cluster:
                say(f"cluster up at {cluster.rest}; broker storage {storage.split(':')[0]}")
                clean = chaos.run(stack, cluster, "a", models, faults=False)
                faulty = chaos.run(stack, cluster, "b", models, faults=True)
                expected_history = {
                    (r["key"], r["event_time_ms"]) for r in clean.scores if r["status"] != "warming_up"
                }
                history = history_check(stack, chaos.secret, expected_history)
    finally:
        if s3 is not None:
            s3.stop()
    leaks = secret_in_logs(run_dir, chaos.secret)
    sent = Counter(chaos.malformed_sent)

    def dlq_counts(dlq: list[bytes]) -> dict[str, int]:
        got = Counter(dlq)
        return {
            "malformed_in_dlq": sum(min(n, got[x]) for x, n in sent.items()),
            "dlq_unexpected": sum(max(0, n - sent[x]) for x, n in got.items()),
        }

    by_fetch = {**compare(clean.anomalies, faulty.anomalies), **dlq_counts(faulty.dlq)}
    if faulty.log_anomalies is not None and clean.log_anomalies is not None and faulty.log_dlq is not None:
        # the headline: read_committed applied to the stored log, since Tansu's fetch ignores aborts
        headline = {**compare(clean.log_anomalies, faulty.log_anomalies), **dlq_counts(faulty.log_dlq)}
        records = (len(clean.log_anomalies), len(faulty.log_anomalies))
        read_by = "read_committed applied to the broker's stored log (embedded/tansu_log.py)"
    else:
        headline, records = by_fetch, (len(clean.anomalies), len(faulty.anomalies))
        read_by = "read_committed consumer (broker fetch)"
    report: dict[str, Any] = {
        "taskmanager_kills": getattr(chaos, "kills", 0),
        "broker_restarts": getattr(chaos, "broker_restarts", 0),
        "redis_outage_s": round(getattr(chaos, "redis_down_s", 0.0), 1),
        "records_fault_free": records[0],
        "records_with_faults": records[1],
        "lost": headline["lost"],
        "duplicates": headline["duplicates"],
        "extra": headline["extra"],
        "malformed_sent": len(chaos.malformed_sent),
        "malformed_in_dlq": headline["malformed_in_dlq"],
        "dlq_unexpected": headline["dlq_unexpected"],
        "late_or_duplicate_sent": chaos.late_sent,
        "late_in_late_topic": len(faulty.log_late if faulty.log_late is not None else faulty.late),
        "job_failed": faulty.job_state not in ("RUNNING",) or clean.job_state != "RUNNING",
        "job_restarts": faulty.restarts,
        "redis_history_gap_filled": history["missing"] == 0,
        "redis_history": history,
        "secret_in_logs": leaks,
        "outputs_read_by": read_by,
        "via_broker_fetch": {
            **by_fetch,
            "records_with_faults": len(faulty.anomalies),
            "late_in_late_topic": len(faulty.late),
            "aborted_transaction_records_in_log": faulty.aborted_skipped,
            "note": "Tansu 0.6.0 serves records of aborted transactions to read_committed consumers",
        },
        "events_per_run": len(chaos.events),
        "broker_storage": storage.split(":")[0],
        "duration_s": round(time.time() - started, 1),
        "plan": asdict(plan),
        "timeline": chaos.log,
    }
    report["passed"] = bool(
        report["lost"] == report["duplicates"] == report["extra"] == 0
        and report["records_fault_free"] > 0
        and not report["job_failed"]
        and report["malformed_in_dlq"] == report["malformed_sent"]
        and report["dlq_unexpected"] == 0
        and report["late_in_late_topic"] == report["late_or_duplicate_sent"]
        and report["taskmanager_kills"] >= plan.taskmanager_kills
        and report["job_restarts"] >= plan.taskmanager_kills
        and not leaks
    )
    return report


if __name__ == "__main__":
    sys.exit(main())
