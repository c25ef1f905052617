"""The harness: strictly online (future rows never change past scores), any matrix/NAB-layout
directory, and the artefacts other tools read (NAB results layout, per-entity arrays)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from evaluation.baselines import RawIsolationForest, RollingZScore, rolling_z
from evaluation.cli import main as eval_main
from evaluation.datasets import load_matrix, load_nab
from evaluation.harness import (
    SentinelDetector,
    SeriesScores,
    episode_onsets,
    min_fit_rows,
    refit_points,
    run_series,
)
from evaluation.runs import label_time, matrix_entity_result, matrix_summary, nab_first_fit


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


def test_rolling_z_leaves_missing_values_out_instead_of_going_silent():
    """One NaN used to poison the running sums: every later row scored NaN and never alerted."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    clean = rolling_z(x[:100], x[100:], 100)
    x[150, 1] = np.nan
    x[250, :] = np.nan
    holed = rolling_z(x[:100], x[100:], 100)
    assert np.isnan(holed[150]) and np.isnan(clean).sum() == 0  # only the row with no metric at all
    assert np.isfinite(np.delete(holed, 150)).all()
    assert holed[50] == pytest.approx(clean[50], rel=0.3)  # the row with one metric missing
    np.testing.assert_allclose(holed[:50], clean[:50])
    x[260, 0] = 40.0  # a spike after the holes still stands out
    assert rolling_z(x[:100], x[100:], 100)[160] > 10


def baselines_only(n_metrics: int, key: str):
    return [RawIsolationForest(), RollingZScore()]


def write_nab_series(nab: Path, name: str, n: int, window: tuple[int, int] | None) -> None:
    """One NAB-layout series of ``n`` rows, with its window (row indices) added to the label file."""
    path = nab / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    (nab / "labels").mkdir(exist_ok=True)
    values, times = series(n)
    stamps = [
        np.datetime64(int(t), "ms").astype("datetime64[s]").astype(str).replace("T", " ") for t in times
    ]
    with path.open("w") as fh:
        fh.write("timestamp,value\n" + "".join(f"{a},{v}\n" for a, v in zip(stamps, values, strict=True)))
    labels = nab / "labels" / "combined_windows.json"
    windows = json.loads(labels.read_text()) if labels.is_file() else {}
    windows[name] = [[stamps[window[0]] + ".000000", stamps[window[1]] + ".000000"]] if window else []
    labels.write_text(json.dumps(windows))


def nab_dir(tmp_path: Path) -> Path:
    """A one-series NAB-layout directory: 600 rows, one labelled window at rows 540-580."""
    nab = tmp_path / "nab"
    write_nab_series(nab, "grp/s.csv", 600, (540, 580))
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


def matrix_dir(tmp_path: Path, train_rows: int = 300, test_label: bool = True) -> Path:
    """A one-entity matrix-layout directory (3 metrics); the test split has 10 anomalous rows."""
    mat = tmp_path / "matrix"
    for sub in ("train", "test", "test_label"):
        (mat / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    np.save(mat / "train" / "e.npy", rng.random((train_rows, 3)))
    test = rng.random((200, 3))
    test[100:110] += 3
    np.save(mat / "test" / "e.npy", test)
    label = np.zeros(200)
    label[100:110] = test_label
    np.save(mat / "test_label" / "e.npy", label)
    return mat


def damage(data: Path, kind: str) -> None:
    """Break a data set the way a hand-made one might be broken."""
    if kind == "no train file":
        (data / "train" / "e.npy").unlink()
    elif kind == "metrics differ":
        np.save(data / "test" / "e.npy", np.zeros((200, 4)))
    elif kind == "short train":
        np.save(data / "train" / "e.npy", np.zeros((min_fit_rows() - 1, 3)))
    elif kind == "no label file":
        (data / "labels" / "combined_windows.json").unlink()
    elif kind == "listed file gone":
        write_nab_series(data, "grp/gone.csv", 600, None)
        (data / "data" / "grp" / "gone.csv").unlink()
    elif kind == "bad value":
        (data / "data" / "grp" / "s.csv").write_text("timestamp,value\n2020-01-01 00:00:00,x\n")
    elif kind == "bad time":
        (data / "data" / "grp" / "s.csv").write_text("timestamp,value\n2020-01-01T00:00:00Z,1\nyesterday,2\n")
    elif kind == "bad header":
        (data / "data" / "grp" / "s.csv").write_text("time,value\n")
    elif kind == "no rows":
        (data / "data" / "grp" / "s.csv").write_text("timestamp,value\n")
    elif kind == "numbers as window times":
        (data / "labels" / "combined_windows.json").write_text('{"grp/s.csv": [[1, 2]]}')
    elif kind == "window outside the file":
        (data / "labels" / "combined_windows.json").write_text(
            '{"grp/s.csv": [["2030-01-01 00:00:00", "2030-01-02 00:00:00"]]}'
        )
    elif kind == "text labels":
        np.save(data / "test_label" / "e.npy", np.array(["no"] * 200))
    elif kind == "empty test":
        np.save(data / "test" / "e.npy", np.zeros((0, 3)))
        np.save(data / "test_label" / "e.npy", np.zeros(0))
    elif kind == "bad interpretation":
        (data / "interpretation_label").mkdir()
        (data / "interpretation_label" / "e.txt").write_text("100-110:1\n100-110\n")
    elif kind == "a metric never seen":
        train = np.load(data / "train" / "e.npy")
        train[:, 1] = np.inf
        np.save(data / "train" / "e.npy", train)


@pytest.fixture
def made_detectors(monkeypatch) -> list[str]:
    """The keys of every entity or series the CLI builds detectors for (the baselines only)."""
    import evaluation.runs as runs

    made: list[str] = []

    def detectors(n_metrics: int, key: str):
        made.append(key)
        return baselines_only(n_metrics, key)

    monkeypatch.setattr(runs, "detectors_for", detectors)
    return made


@pytest.mark.parametrize(
    "layout, kind, message",
    [
        ("matrix", "no train file", r"train/e\.npy: missing"),
        ("matrix", "metrics differ", r"test/e\.npy: shapes disagree \(train \(300, 3\), test \(200, 4\)"),
        ("matrix", "short train", r"too short .*: e \(88\)"),
        ("matrix", "a metric never seen", r"too short .*: e \(0\)"),
        ("matrix", "text labels", r"test_label/e\.npy: dtype <U2 is not numeric"),
        ("matrix", "empty test", r"test/e\.npy: shapes disagree .* none of them empty"),
        ("matrix", "bad interpretation", r"e\.txt:2: '100-110' is not start-end:d1,d2"),
        ("nab", "no label file", "combined_windows.json: missing"),
        ("nab", "listed file gone", "gone.csv: listed in combined_windows.json but missing"),
        ("nab", "bad value", r"s\.csv:2: value 'x' is not a finite number"),
        ("nab", "bad time", r"s\.csv:3: timestamp 'yesterday' is not an ISO 8601 time"),
        ("nab", "bad header", r"s\.csv: no timestamp column"),
        ("nab", "no rows", r"s\.csv: no data rows"),
        (
            "nab",
            "numbers as window times",
            r"combined_windows\.json: grp/s\.csv: \[1, 2\] is not \[start, end\]",
        ),
        ("nab", "window outside the file", r"combined_windows\.json: grp/s\.csv: a window holds no row"),
    ],
)
def test_a_bad_data_set_is_refused_naming_the_file_before_any_fitting(
    tmp_path, made_detectors, capsys, layout, kind, message
):
    data = matrix_dir(tmp_path) if layout == "matrix" else nab_dir(tmp_path)
    damage(data, kind)
    argv = [layout, "--data", str(data), "--out", str(tmp_path / "r.json"), "--jobs", "1", "--quiet"]
    assert eval_main(argv + (["--seeds", "none"] if layout == "matrix" else [])) == 2
    err = capsys.readouterr().err
    assert err.startswith("sentinel-eval: error: ") and "Traceback" not in err
    assert re.search(message, err), err
    assert not made_detectors and not (tmp_path / "r.json").exists()


def test_a_nab_series_too_short_to_fit_is_reported_unscored_and_its_window_missed(tmp_path, monkeypatch):
    import evaluation.runs as runs

    nab = nab_dir(tmp_path)
    short = min_fit_rows()  # a first fit needs more rows than this
    write_nab_series(nab, "grp/short.csv", short, (short - 20, short - 10))
    monkeypatch.setattr(runs, "detectors_for", baselines_only)
    out = tmp_path / "n.json"
    assert eval_main(["nab", "--data", str(nab), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    rep = json.loads(out.read_text())
    assert rep["nab_unscored"] == ["grp/short.csv"]
    rows = list(csv.DictReader((tmp_path / "n" / "zscore" / "grp" / "zscore_short.csv").open()))
    assert len(rows) == short and all(float(r["anomaly_score"]) == 0.0 for r in rows)
    assert rep["per_entity"]["zscore"]["grp/short.csv"]["fn"] == 1
    # a series long enough keeps its probation as the first fit
    (f,) = [f for f in load_nab(nab) if f.name == "grp/s.csv"]
    assert nab_first_fit(f) == max(f.probation, short) < len(f.values)


def test_the_all_command_checks_both_data_sets_before_fitting_either(tmp_path, made_detectors, capsys):
    matrix_dir(tmp_path).rename(tmp_path / "smd")
    damage(nab_dir(tmp_path), "bad value")
    argv = ["all", "--data", str(tmp_path), "--out", str(tmp_path / "r.json"), "--quiet", "--seeds", "none"]
    assert eval_main([*argv, "--jobs", "1"]) == 2
    assert "s.csv:2: value 'x'" in capsys.readouterr().err and not made_detectors


class FitSizes(RollingZScore):
    """The z-score baseline, recording how many rows each fit saw."""

    sizes: ClassVar[list[int]] = []

    def fit(self, past: np.ndarray, times_ms: np.ndarray) -> None:
        FitSizes.sizes.append(len(past))
        super().fit(past, times_ms)


def test_a_short_probation_delays_the_first_fit_and_leaves_its_rows_unscored(tmp_path, monkeypatch):
    import evaluation.runs as runs

    nab = tmp_path / "nab"
    write_nab_series(nab, "grp/s.csv", 200, (150, 170))  # probation: 30 rows
    FitSizes.sizes = []
    monkeypatch.setattr(runs, "detectors_for", lambda n, key: [FitSizes()])
    assert (
        eval_main(["nab", "--data", str(nab), "--out", str(tmp_path / "n.json"), "--jobs", "1", "--quiet"])
        == 0
    )
    assert FitSizes.sizes[0] == min_fit_rows() == 89
    rows = list(csv.DictReader((tmp_path / "n" / "zscore" / "grp" / "zscore_s.csv").open()))
    scores = np.array([float(r["anomaly_score"]) for r in rows])
    assert not scores[30:89].any() and scores[89:].any()  # nothing before the fit; scored after it


def test_the_first_fit_counts_only_rows_the_detector_keeps(tmp_path):
    nab = tmp_path / "nab"
    write_nab_series(nab, "grp/s.csv", 200, (150, 170))
    lines = (nab / "data" / "grp" / "s.csv").read_text().splitlines()
    for i in range(11, 21):  # ten rows that repeat the time of row 10 (as NAB's own files have)
        lines[i + 1] = lines[11].split(",")[0] + "," + lines[i + 1].split(",")[1]
    (nab / "data" / "grp" / "s.csv").write_text("\n".join(lines) + "\n")
    (f,) = load_nab(nab)
    assert nab_first_fit(f) == min_fit_rows() + 10


def test_infinite_matrix_entries_are_missing_values(tmp_path):
    mat = matrix_dir(tmp_path)
    test = np.load(mat / "test" / "e.npy")
    test[5, 2] = -np.inf
    np.save(mat / "test" / "e.npy", test)
    (ent,) = load_matrix(mat)
    assert np.isnan(ent.test[5, 2]) and np.isfinite(np.delete(ent.test, 5, axis=0)).all()


def test_an_entity_without_labelled_anomalies_has_no_f1_and_is_left_out_of_the_means(tmp_path):
    (labelled,) = load_matrix(matrix_dir(tmp_path / "a"))
    (unlabelled,) = load_matrix(matrix_dir(tmp_path / "b", test_label=False))
    alert = np.zeros(200, dtype=np.int8)
    alert[100:105] = 1
    alert[10] = 1
    s = SeriesScores(alert.astype(float), alert, 0.5)
    per = {e.name + k: matrix_entity_result(e, s, 1.0) for k, e in (("1", labelled), ("2", unlabelled))}
    assert per["e1"]["f1_pointwise"] == pytest.approx(2 * (5 / 6) * 0.5 / (5 / 6 + 0.5))
    assert all(per["e2"][k] is None for k in ("f1_pointwise", "precision", "recall", "f1_best", "f1_pa"))
    assert per["e2"]["alerts"] == 6 and per["e2"]["events"] == 0
    assert matrix_summary(per)["f1_pointwise"] == per["e1"]["f1_pointwise"]


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
    for bad in (["--members", "0"], ["--every", "0"], ["--every", "-1"], ["--jobs", "0"]):
        with pytest.raises(SystemExit):
            eval_main([*argv, *bad])


def test_the_results_page_refuses_a_report_that_is_not_of_make_eval(tmp_path, capsys):
    nab_only = tmp_path / "n.json"
    nab_only.write_text(json.dumps({"nab": {"standard": 1.0}}))
    out = tmp_path / "page.md"
    assert eval_main(["results", "--eval", str(nab_only), "--out", str(out)]) == 2
    assert "is not a report of `sentinel-eval all`" in capsys.readouterr().err and not out.exists()
    assert eval_main(["results", "--eval", str(tmp_path / "missing.json"), "--out", str(out)]) == 2


def test_minutes_before_the_label_count_from_the_label_not_the_window_middle():
    from evaluation.datasets import NabFile

    times = np.arange(100, dtype=np.int64) * 300_000  # 5-minute rows
    f = NabFile("g/f.csv", [], times, np.zeros(100), [(10, 30), (50, 70)], anomalies_ms=[int(times[12])])
    assert label_time(f, 10, 30) == times[12]  # off-centre label (NAB has one, 150 minutes off)
    assert label_time(f, 50, 70) == times[60]  # no label in the window: its middle row
