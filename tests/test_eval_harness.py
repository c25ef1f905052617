"""The harness: strictly online (future rows never change past scores), any matrix/NAB-layout
directory, and the artefacts other tools read (NAB results layout, per-entity arrays)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.baselines import RawIsolationForest, RollingZScore
from evaluation.cli import main as eval_main
from evaluation.datasets import load_matrix, load_nab
from evaluation.harness import SentinelDetector, episode_onsets, refit_points, run_series


def series(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 10 + np.sin(t / 12) + 0.1 * rng.normal(size=n)
    values[n - 40 : n - 30] += 5
    return values, 1_600_000_000_000 + t * 300_000


def test_refit_points_double_from_the_first_fit():
    assert refit_points(1000, 100) == [100, 200, 400, 800]
    assert refit_points(100, 150) == []


@pytest.mark.parametrize("make", [RollingZScore, RawIsolationForest, lambda: SentinelDetector(1)])
def test_scores_never_depend_on_future_rows(make):
    values, times = series(420)
    full = run_series(make(), values, times, first_fit=100)
    prefix = run_series(make(), values[:300], times[:300], first_fit=100)
    for name, s in prefix.items():
        np.testing.assert_array_equal(s.score, full[name].score[:300])
        np.testing.assert_array_equal(s.alert, full[name].alert[:300])


def baselines_only(n_metrics: int, key: str):
    return [RawIsolationForest(), RollingZScore()]


def nab_dir(tmp_path: Path) -> Path:
    """A one-series NAB-layout directory: 600 rows, one labelled window at rows 540-580."""
    nab = tmp_path / "nab"
    (nab / "data" / "grp").mkdir(parents=True)
    (nab / "labels").mkdir()
    values, times = series(600)
    stamps = [
        np.datetime64(int(t), "ms").astype("datetime64[s]").astype(str).replace("T", " ") for t in times
    ]
    with (nab / "data" / "grp" / "s.csv").open("w") as fh:
        fh.write("timestamp,value\n" + "".join(f"{a},{v}\n" for a, v in zip(stamps, values, strict=True)))
    window = [[stamps[540] + ".000000", stamps[580] + ".000000"]]
    (nab / "labels" / "combined_windows.json").write_text(json.dumps({"grp/s.csv": window}))
    return nab


def test_matrix_and_nab_directories_of_any_shape(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    mat = tmp_path / "matrix"
    for sub in ("train", "test", "test_label"):
        (mat / sub).mkdir(parents=True)
    for name, m in (("a", 3), ("b", 5)):
        np.save(mat / "train" / f"{name}.npy", rng.random((300, m)).astype(np.float32))
        test = rng.random((200, m)).astype(np.float32)
        test[100:110] += 3
        np.save(mat / "test" / f"{name}.npy", test)
        label = np.zeros(200, dtype=np.float32)
        label[100:110] = 1
        np.save(mat / "test_label" / f"{name}.npy", label)
    ents = load_matrix(mat)
    assert [e.name for e in ents] == ["a", "b"] and ents[1].test.shape == (200, 5)

    nab = nab_dir(tmp_path)
    (f,) = load_nab(nab)
    assert f.windows == [(540, 580)] and f.probation == 90

    import evaluation.runs as runs

    monkeypatch.setattr(runs, "detectors_for", baselines_only)
    out = tmp_path / "reports" / "m.json"
    argv = ["matrix", "--data", str(mat), "--out", str(out), "--jobs", "1", "--quiet", "--seeds", "none"]
    assert eval_main(argv) == 0
    rep = json.loads(out.read_text())
    assert set(rep) == {"matrix", "baselines", "per_entity"}
    assert np.load(tmp_path / "reports" / "m" / "baselines" / "zscore" / "scores" / "b.npy").shape == (200,)
    alerts = np.load(tmp_path / "reports" / "m" / "baselines" / "zscore" / "alerts" / "a.npy")
    assert set(np.unique(alerts)) <= {0, 1}

    out = tmp_path / "reports" / "n.json"
    assert eval_main(["nab", "--data", str(nab), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    rows = list(csv.DictReader((tmp_path / "reports" / "n" / "zscore" / "grp" / "zscore_s.csv").open()))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "label"] and len(rows) == 600
    assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in rows)
    assert sum(int(r["label"]) for r in rows) == 41
    rep = json.loads(out.read_text())
    assert {"standard", "reward_low_fp", "reward_low_fn"} <= set(rep["baselines"]["zscore"])


def test_shared_datasets_load_when_present():
    root = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if not (root / "nab").is_dir():
        pytest.skip("shared data sets not present")
    files = load_nab(root / "nab")
    assert len(files) == 58 and sum(len(f.windows) for f in files) == 116
    smd = load_matrix(root / "smd")
    assert len(smd) == 6 and all(e.test.shape[1] == 38 and e.interpretation for e in smd)


def test_episode_onsets_follow_the_engine_rule_for_0_1_alerts():
    alert = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1, 1])
    assert episode_onsets(alert, 3).tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 1, 0]
    assert episode_onsets(alert, 2).tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 1, 0]


def test_seed_spread_refits_our_detector_with_each_seed(tmp_path):
    import functools

    from evaluation.datasets import MatrixEntity
    from evaluation.runs import evaluate_matrix, seed_spread, sentinel_only

    assert [d.params.seed for d in sentinel_only(7, 2, "e")] == [7]  # type: ignore[attr-defined]
    rng = np.random.default_rng(3)
    test = rng.normal(size=(200, 2))
    test[120:140] += 6
    label = np.zeros(200, dtype=np.int8)
    label[120:140] = 1
    entity = MatrixEntity("e", rng.normal(size=(300, 2)), test, label)
    base = evaluate_matrix([entity], None, make_detectors=functools.partial(sentinel_only, 42), show=False)
    spread = seed_spread([entity], base, seeds=(7,), show=False)
    assert spread["seeds"] == [42, 7]
    assert spread["f1_pointwise"][0] == base["summary"]["f1_pointwise"]
    assert spread["per_entity_f1"]["e"][0] == base["per_entity"]["sentinel"]["e"]["f1_pointwise"]
    for k in ("f1_pointwise", "f1_best"):
        assert len(spread[k]) == 2 and all(0.0 <= v <= 1.0 for v in spread[k])
        assert spread[f"{k}_min"] <= spread[f"{k}_mean"] <= spread[f"{k}_max"]
    assert spread["f1_best"][1] > 0.5  # a 6-sigma shift is found whatever the seed


def test_nab_seed_spread_from_the_command(tmp_path, monkeypatch):
    import functools

    import evaluation.runs as runs

    monkeypatch.setattr(runs, "detectors_for", functools.partial(runs.sentinel_only, 42))
    out = tmp_path / "n.json"
    argv = [
        "nab",
        "--data",
        str(nab_dir(tmp_path)),
        "--out",
        str(out),
        "--jobs",
        "1",
        "--quiet",
        "--seeds",
        "7",
    ]
    assert eval_main(argv) == 0
    rep = json.loads(out.read_text())
    spread = rep["nab_seeds"]
    assert spread["seeds"] == [42, 7]
    assert spread["standard"][0] == rep["nab"]["standard"]
    assert len(spread["windows_detected"]) == 2 and all(w.endswith("/1") for w in spread["windows_detected"])
    assert spread["standard_min"] <= spread["standard_mean"] <= spread["standard_max"] <= 100.0


def test_members_flag_reaches_every_fit_of_our_detector(tmp_path, monkeypatch):
    import evaluation.runs as runs

    assert [d.params.members for d in runs.sentinel_only(7, 2, "e", members=1)] == [1]  # type: ignore[attr-defined]
    assert runs.sentinel_only(7, 2, "e")[0].params.members == 3  # type: ignore[attr-defined]
    seen: list[int] = []

    class Recording(runs.SentinelDetector):
        def __init__(self, n_metrics, key="entity", params=None):
            super().__init__(n_metrics, key, params)
            seen.append(self.params.members)

    monkeypatch.setattr(runs, "SentinelDetector", Recording)
    out = tmp_path / "n.json"
    argv = ["nab", "--data", str(nab_dir(tmp_path)), "--out", str(out), "--jobs", "1", "--quiet"]
    assert eval_main([*argv, "--members", "1", "--seeds", "7"]) == 0
    assert seen == [1, 1]  # the default seed's run and seed 7's
    assert json.loads((tmp_path / "n" / "run.json").read_text())["members"] == 1
    with pytest.raises(SystemExit):
        eval_main([*argv, "--members", "0"])
