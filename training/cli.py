"""``sentinel-train``: train a model version from simulated history, files, or the Redis feature history.

Examples::

    sentinel-train --source simulated --out models
    sentinel-train --source files --data history.jsonl more.csv --out models
    sentinel-train --source redis --out models --set redis.port=6380
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from detector.config import load_config
from detector.engine import featurize
from detector.features import feature_names
from generator.simulate import FleetSpec
from training.data import file_events, simulated_events
from training.train import TrainParams, export, fit, quiet_tensorflow_logs


def main(argv: list[str] | None = None) -> int:
    quiet_tensorflow_logs()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", choices=["simulated", "files", "redis"], default="simulated")
    p.add_argument("--data", nargs="*", default=[], help="files for --source files (.jsonl, .csv, .npy)")
    p.add_argument("--out", default="models", help="model root; a new version folder is created inside")
    p.add_argument("--config", help="JSON config file")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    p.add_argument("--hosts", type=int, default=60, help="simulated hosts")
    p.add_argument("--steps", type=int, default=900, help="simulated steps per host")
    p.add_argument("--epochs", type=int, default=TrainParams.epochs)
    p.add_argument(
        "--min-steps",
        type=int,
        default=TrainParams.min_steps,
        help="fewest gradient steps: small data sets get more epochs (0: exactly --epochs)",
    )
    p.add_argument("--seed", type=int, default=TrainParams.seed)
    p.add_argument(
        "--members",
        type=int,
        default=TrainParams.members,
        help="autoencoder -> Isolation Forest pairs, each with its own seed, their scores averaged",
    )
    p.add_argument(
        "--seasonal",
        choices=["auto", "on", "off"],
        default=TrainParams.seasonal,
        help="seasonal stage (each metric against its values one and two periods earlier); "
        "auto: single-metric models only",
    )
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.min_steps < 0 or args.members < 1:
        p.error("--epochs and --members must be at least 1 and --min-steps at least 0")
    cfg = load_config(args.config, args.set)
    params = TrainParams(
        epochs=args.epochs,
        min_steps=args.min_steps,
        seed=args.seed,
        members=args.members,
        seasonal=args.seasonal,
    )
    t0 = time.time()
    if args.source == "simulated":
        spec = FleetSpec(hosts=args.hosts, seed=args.seed)
        x, keys, times = featurize(simulated_events(spec, args.steps, 1_700_000_000_000, cfg), cfg)
        summary = {"source": "simulated", "hosts": args.hosts, "steps": args.steps, "fleet_seed": args.seed}
    elif args.source == "files":
        if not args.data:
            p.error("--source files needs --data FILE [FILE ...]")
        xs, keys, ts = [], [], []
        for i, f in enumerate(args.data):
            xf, kf, tf = featurize(file_events(Path(f), cfg), cfg)
            xs.append(xf)
            ts.append(tf)
            keys += [f"{i}:{k}" for k in kf]  # one entity in two files is two series
        x = np.concatenate(xs) if xs else np.zeros((0, 0))
        times = np.concatenate(ts) if ts else np.zeros(0, dtype=np.int64)
        summary = {"source": "files", "files": [Path(f).name for f in args.data]}
    else:
        from feature_store.store import RedisFeatureStore

        store = RedisFeatureStore(cfg.redis)
        expected = feature_names(list(cfg.stream.metrics))
        schema = store.read_schema()
        if schema is not None and schema != expected:
            print(
                f"the Redis feature history was written for {len(schema)} features "
                f"({', '.join(schema[:3])}, ...), this config computes {len(expected)} "
                f"({', '.join(expected[:3])}, ...): train with the job's stream.metrics",
                file=sys.stderr,
            )
            return 2
        rows = store.read_history()
        fitting = [r for r in rows if len(r.vector) == len(expected)]  # older rows of another width
        if len(fitting) < len(rows):
            print(
                f"skipping {len(rows) - len(fitting)} history rows of another width than "
                f"{len(expected)} features (written before a change of stream.metrics)",
                file=sys.stderr,
            )
        rows = fitting
        if not rows:
            print(
                "the Redis feature history is empty: run the job first, or train from files", file=sys.stderr
            )
            return 2
        x = np.stack([r.vector for r in rows])
        keys = [r.entity for r in rows]
        times = np.array([r.timestamp_ms for r in rows], dtype=np.int64)
        summary = {"source": "redis", "entities": len({r.entity for r in rows})}
    summary.update(feature_rows=len(x), featurize_seconds=round(time.time() - t0, 1))
    if not args.quiet:
        print(
            f"training on {len(x)} feature vectors ({x.shape[1] if x.ndim == 2 else 0} features)", flush=True
        )
    fitted = fit(x, cfg, params, progress=not args.quiet, keys=keys, times_ms=times)
    out = export(fitted, args.out, cfg, params, summary)
    print(f"model written to {out} (threshold {fitted.model.threshold:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
