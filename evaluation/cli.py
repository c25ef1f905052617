"""``sentinel-eval``: detection quality on labelled data.

    sentinel-eval all    --data ../shared/datasets --out reports/eval.json   # make eval
    sentinel-eval matrix --data DIR --out reports/x.json                      # make eval-matrix
    sentinel-eval nab    --data DIR --out reports/x.json                      # make eval-nab
    sentinel-eval results --eval reports/eval.json --out docs/results.md      # make results
    sentinel-eval replay  --run reports/eval.json --threshold 1.4 --k 3 --n 3 # make replay ARGS=...

Each run also writes what it scored next to OUT, in a folder named after it without ``.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from detector.config import AlertConfig, Config, validate
from evaluation.datasets import DatasetError, load_matrix, load_nab
from evaluation.harness import default_params
from evaluation.runs import (
    SPREAD_SEEDS,
    detectors_for,
    evaluate_matrix,
    evaluate_nab,
    nab_seed_spread,
    seed_spread,
)
from training.train import quiet_tensorflow_logs

NAB_FIELDS = ("standard", "reward_low_fp", "reward_low_fn")
RULE_FIELDS = ("k", "n", "episode_gap", "episode_max_gap")
"""The alert rule's settings ``sentinel-eval replay`` can change (``AlertConfig`` fields)."""


def artefact_dir(out: Path) -> Path:
    """``reports/x.json`` -> ``reports/x/``."""
    return out.with_suffix("") if out.suffix == ".json" else out.parent / (out.name + ".d")


def _nab_shape(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in NAB_FIELDS}


def _write(out: Path, report: dict[str, Any], run: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    d = artefact_dir(out)
    d.mkdir(parents=True, exist_ok=True)
    (d / "run.json").write_text(json.dumps(run, indent=2, default=_json_default) + "\n")
    print(f"wrote {out} and {d}/", file=sys.stderr)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(type(o))


def cpu_model() -> str:
    """The CPU's model name (run times differ between machines by 1.5x or more)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _run_info(argv: list[str], t0: float, **extra: Any) -> dict[str, Any]:
    return dict(
        command="sentinel-eval " + " ".join(argv),
        seconds=round(time.time() - t0, 1),
        cpus=os.cpu_count(),
        cpu_model=cpu_model(),
        python=platform.python_version(),
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    )


def _seeds(text: str) -> tuple[int, ...]:
    """``"1,2"`` -> (1, 2); ``""`` or ``"none"`` -> ()."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds wants comma-separated integers, got {text!r}") from None


def _timed(
    seeds: tuple[int, ...], spread: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any] | None, float | None]:
    """(``spread()``, seconds it took), or (None, None) without seeds."""
    if not seeds:
        return None, None
    t0 = time.time()
    return spread(), round(time.time() - t0, 1)


def main(argv: list[str] | None = None) -> int:
    quiet_tensorflow_logs()
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(
        prog="sentinel-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, default_data in (("all", "../shared/datasets"), ("matrix", None), ("nab", None)):
        s = sub.add_parser(name)
        s.add_argument("--data", required=default_data is None, default=default_data)
        s.add_argument("--out", required=name != "all", default="reports/eval.json")
        s.add_argument("--quiet", action="store_true", help="no progress bars")
        s.add_argument(
            "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="series scored in parallel"
        )
        s.add_argument(
            "--every", type=int, default=1, help="only every K-th entity/file (a quick look, not for reports)"
        )
        s.add_argument(
            "--members",
            type=int,
            help="autoencoder -> Isolation Forest pairs per model of our detector (default: the model's "
            "default, TrainParams.members); 1 is the one-pair model to compare with",
        )
        if name != "nab":
            s.add_argument(
                "--seeds",
                type=_seeds,
                default=SPREAD_SEEDS,
                help="matrix data: also refit our detector with these training seeds and report the spread "
                "(default %(default)s; 'none' to skip)",
            )
        if name != "matrix":
            s.add_argument(
                "--seeds" if name == "nab" else "--nab-seeds",
                dest="nab_seeds",
                type=_seeds,
                default=(),
                help="NAB: also refit our detector with these training seeds, e.g. 1,2 (off by default: "
                "about 15 min per seed on 2 cores)",
            )
    r = sub.add_parser("results")
    r.add_argument("--eval", default="reports/eval.json")
    r.add_argument("--out", default="docs/results.md")
    rp = sub.add_parser(
        "replay",
        help="a finished run's saved scores through the alert rule with other settings (seconds, no refit)",
    )
    rp.add_argument("--run", default="reports/eval.json", help="the run's report (its artefacts beside it)")
    rp.add_argument("--data", help="the run's data directory (default: the one the run read)")
    rp.add_argument("--out", default="reports/replay.json")
    rp.add_argument("--threshold", type=float, help="on the calibrated scale (default: the run's)")
    for f in RULE_FIELDS:
        rp.add_argument("--" + f.replace("_", "-"), type=int, help=f"alert.{f} (default: the run's)")
    args = p.parse_args(argv)
    t0 = time.time()
    if args.cmd == "replay":
        return _replay(p, args, argv, t0)
    if args.cmd == "results":
        from evaluation.report import write_results_page

        try:
            write_results_page(Path(args.eval), Path(args.out))
        except (DatasetError, OSError, ValueError) as e:
            print(f"{p.prog}: error: {e}", file=sys.stderr)
            return 2
        print(f"wrote {args.out}", file=sys.stderr)
        return 0
    if args.members is not None and args.members < 1:
        p.error("--members must be at least 1")
    if args.every < 1:
        p.error("--every must be at least 1")
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    try:
        return _evaluate(args, argv, t0)
    except DatasetError as e:  # bad data: say what and where, no traceback
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2


def _replay(p: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str], t0: float) -> int:
    """The ``replay`` command: prints the replay's figures beside the run's and writes them to OUT."""
    from evaluation.replay import ReplaySettings, replay_run

    changes = {f: getattr(args, f) for f in RULE_FIELDS if getattr(args, f) is not None}
    try:
        rule = dataclasses.replace(AlertConfig(), **changes)
        validate(Config(alert=rule))  # the job's own limits on these settings
        if args.threshold is not None and not 0 < args.threshold < float("inf"):
            raise ValueError(f"--threshold must be a positive number, got {args.threshold}")
        settings = ReplaySettings(args.threshold, rule)
        report = replay_run(Path(args.run), None if args.data is None else Path(args.data), settings)
    except (DatasetError, ValueError) as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2
    for name in ("nab", "smd", "matrix"):
        if name in report:
            for label in ("run", "replay"):
                figures = {k: v for k, v in report[name][label].items() if k != "per_entity_f1"}
                shown = ", ".join(
                    f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()
                )
                print(f"{name} {label:6s} {shown}", file=sys.stderr)
    _write(Path(args.out), report, _run_info(argv, t0))
    return 0


def _evaluate(args: argparse.Namespace, argv: list[str], t0: float) -> int:
    """The ``all``, ``matrix`` and ``nab`` commands."""
    members = args.members
    pairs = default_params().members if members is None else members  # recorded in run.json
    make = None if members is None else functools.partial(detectors_for, members=members)
    out = Path(args.out)
    d = artefact_dir(out)
    data = Path(args.data)
    show = not args.quiet
    if args.cmd == "matrix":
        entities = load_matrix(data)[:: args.every]
        res = evaluate_matrix(entities, d, make_detectors=make, show=show, jobs=args.jobs)
        report = {"matrix": res["summary"], "baselines": res["baselines"], "per_entity": res["per_entity"]}
        if args.seeds:
            report["matrix_seeds"] = seed_spread(entities, res, args.seeds, show, args.jobs, members)
        _write(out, report, _run_info(argv, t0, data=str(data), members=pairs))
        return 0
    if args.cmd == "nab":
        files = load_nab(data)[:: args.every]
        res = evaluate_nab(files, d, make_detectors=make, show=show, jobs=args.jobs)
        report = {
            "nab": res["summary"],
            "baselines": res["baselines"],
            "per_entity": res["per_entity"],
        }
        if res["unscored"]:
            report["nab_unscored"] = res["unscored"]
        if args.nab_seeds:
            report["nab_seeds"] = nab_seed_spread(files, res, args.nab_seeds, show, args.jobs, members)
        _write(out, report, _run_info(argv, t0, data=str(data), members=pairs))
        return 0
    smd_entities = load_matrix(data / "smd")[:: args.every]
    nab_files = load_nab(data / "nab")[:: args.every]  # both data sets checked before any fitting
    smd = evaluate_matrix(smd_entities, d / "smd", make_detectors=make, show=show, jobs=args.jobs)
    smd_seeds, smd_seed_seconds = _timed(
        args.seeds, lambda: seed_spread(smd_entities, smd, args.seeds, show, args.jobs, members)
    )
    nab = evaluate_nab(nab_files, d / "nab", make_detectors=make, show=show, jobs=args.jobs)
    nab_seeds, nab_seed_seconds = _timed(
        args.nab_seeds, lambda: nab_seed_spread(nab_files, nab, args.nab_seeds, show, args.jobs, members)
    )
    baselines = {
        name: {"nab": _nab_shape(nab["baselines"][name]), "smd": smd["baselines"][name]}
        for name in smd["baselines"]
    }
    report = {
        "nab": _nab_shape(nab["summary"]),
        "smd": smd["summary"],
        "baselines": baselines,
        "per_entity": {"smd": smd["per_entity"], "nab": nab["per_entity"]},
    }
    if nab["unscored"]:
        report["nab_unscored"] = nab["unscored"]
    if smd_seeds is not None:
        report["smd_seeds"] = smd_seeds
    if nab_seeds is not None:
        report["nab_seeds"] = nab_seeds
    run = _run_info(
        argv,
        t0,
        data=str(data),
        members=pairs,
        smd_seconds=smd["seconds"],
        smd_seed_seconds=smd_seed_seconds,
        nab_seconds=nab["seconds"],
        nab_seed_seconds=nab_seed_seconds,
        nab_details={"sentinel": nab["summary"], **nab["baselines"]},
        nab_baselines_episodes=nab["baselines_episodes"],
    )
    _write(out, report, run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
