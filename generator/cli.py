"""``sentinel-generate``: live simulated metrics with labelled incidents, or replay of CSV/NPY files.

sentinel-generate live --bootstrap 127.0.0.1:9092 --hosts 100 --duration 300 --incidents 10
sentinel-generate replay --bootstrap 127.0.0.1:9092 data/machine-1-1.npy
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from embedded.kafka import produce_one, producer
from generator.simulate import INCIDENT_TYPES, FleetSpec


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    live = sub.add_parser("live", help="simulated fleet in real time")
    live.add_argument("--hosts", type=int, default=100)
    live.add_argument("--rate", type=float, help="events/s in total (sets the step interval)")
    live.add_argument("--interval", type=float, default=1.0, help="seconds between a host's observations")
    live.add_argument("--duration", type=float, default=300.0)
    live.add_argument("--incidents", type=int, default=10)
    live.add_argument("--mix", default=",".join(INCIDENT_TYPES), help="incident types, comma separated")
    live.add_argument("--seed", type=int, default=7)
    live.add_argument("--labels", type=Path, default=Path("reports/incidents.json"))
    rep = sub.add_parser("replay", help="replay CSV/NPY files")
    rep.add_argument("files", nargs="+", type=Path)
    rep.add_argument("--metrics", help="column names for NPY files, comma separated")
    rep.add_argument("--interval", type=float, default=60.0, help="seconds between NPY rows")
    for s in (live, rep):
        s.add_argument("--bootstrap", default="127.0.0.1:9092")
        s.add_argument("--topic", default="system-metrics")
        s.add_argument("--entity-labels", default="host,service")
    args = p.parse_args(argv)
    prod = producer(args.bootstrap)
    labels = args.entity_labels.split(",")

    def send(ev: dict) -> None:
        key = "/".join(str(ev.get(label, "")) for label in labels)
        produce_one(prod, args.topic, json.dumps(ev).encode(), key.encode())
        prod.poll(0)

    if args.cmd == "live":
        from generator.live import run_live

        interval = args.hosts / args.rate if args.rate else args.interval
        mix = tuple(m.strip() for m in args.mix.split(",") if m.strip())
        unknown = set(mix) - set(INCIDENT_TYPES)
        if unknown:
            p.error(f"unknown incident types {sorted(unknown)}; choose from {INCIDENT_TYPES}")
        spec = FleetSpec(hosts=args.hosts, interval_s=interval, seed=args.seed, incident_mix=mix)
        run = run_live(send, spec, args.duration, args.incidents, labels_path=args.labels)
        print(f"produced {run.produced} events; incidents in {args.labels}")
    else:
        from generator.replay import replay_records

        metrics = args.metrics.split(",") if args.metrics else None
        n = 0
        for f in args.files:
            for ev in replay_records(f, labels, metrics, int(time.time() * 1000), int(args.interval * 1000)):
                send(ev)
                n += 1
        print(f"replayed {n} events from {len(args.files)} files")
    prod.flush(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
