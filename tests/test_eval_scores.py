"""The scorers against the published rules: null = 0, perfect = 100, hand-computed cases, and the fast
threshold sweeps equal to brute force."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from evaluation.explain import hitrate
from evaluation.nab_score import PROFILES, FileInput, load_profiles, score_corpus, score_file, sigma
from evaluation.pointwise import best_f1, best_f1_point_adjusted, event_detection, point_adjust, prf

NAB = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "nab"
STD = PROFILES["standard"]


def corpus(rng: np.random.Generator, n_files: int = 4) -> list[FileInput]:
    files = []
    for i in range(n_files):
        n = int(rng.integers(200, 400))
        windows = [(60, 80), (150, 170)] if i % 2 else [(100, 130)]
        files.append(FileInput(f"f{i}", rng.random(n), windows, probation=30))
    return files


def test_sigma_matches_the_rule():
    assert sigma(0.0) == pytest.approx(0.0)
    assert sigma(-1.0) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert sigma(50.0) == pytest.approx(-1.0)


def test_null_detector_scores_zero_and_perfect_scores_hundred():
    rng = np.random.default_rng(0)
    files = corpus(rng)
    for p in PROFILES.values():
        null = [FileInput(f.name, np.zeros(len(f.scores)), f.windows, f.probation) for f in files]
        assert score_corpus(null, p).normalised == pytest.approx(0.0)
        perfect = []
        for f in files:
            s = np.zeros(len(f.scores))
            for a, _ in f.windows:
                s[a] = 1.0
            perfect.append(FileInput(f.name, s, f.windows, f.probation))
        r = score_corpus(perfect, p)
        assert r.normalised == pytest.approx(100.0) and r.threshold == 1.0


def test_hand_computed_file():
    # window rows 10..20 (span 10); detections at 15 (inside: y = -0.5), 12 (earlier, counts), 25 and 5
    s = np.zeros(40)
    s[[5, 12, 15, 25]] = 1.0
    f = FileInput("x", s, [(10, 20)], probation=0)
    r = score_file(f, 0.5, STD)
    tp = float(sigma(-0.8) / sigma(-1.0))  # earliest detection at 12: y = (12 - 20) / 10
    fp_before = -0.11  # no window precedes row 5
    fp_after = 0.11 * float(sigma(5 / 11))  # 5 rows past the right edge, window length 11
    assert (r.tp, r.fn, r.fp) == (1, 0, 2)
    assert r.score == pytest.approx(tp + fp_before + fp_after)
    # probation hides row 5
    r2 = score_file(FileInput("x", s, [(10, 20)], probation=8), 0.5, STD)
    assert r2.score == pytest.approx(tp + fp_after) and r2.fp == 1
    # low-FN profile: a missed window costs 2
    miss = score_file(FileInput("x", np.zeros(40), [(10, 20)], 0), 0.5, PROFILES["reward_low_FN_rate"])
    assert miss.score == -2.0 and miss.fn == 1


def test_left_edge_earns_tp_weight_and_right_edge_nothing():
    f = FileInput("x", np.zeros(30), [(10, 20)], probation=0)
    f.scores[10] = 1
    assert score_file(f, 1.0, STD).score == pytest.approx(1.0)
    f.scores[:] = 0
    f.scores[20] = 1
    assert score_file(f, 1.0, STD).score == pytest.approx(0.0)


def test_threshold_sweep_equals_brute_force():
    rng = np.random.default_rng(1)
    files = corpus(rng, 6)
    for f in files:  # ties and a few strong hits
        f.scores = np.round(f.scores, 2)
    for p in PROFILES.values():
        r = score_corpus(files, p)
        candidates = np.unique(np.concatenate([f.scores for f in files]))
        brute = max(sum(score_file(f, t, p).score for f in files) for t in candidates)
        assert r.raw == pytest.approx(max(brute, r.null))


@pytest.mark.skipif(not (NAB / "config" / "profiles.json").is_file(), reason="NAB data not present")
def test_profiles_match_nab_config():
    loaded = load_profiles(NAB / "config" / "profiles.json")
    for name, p in PROFILES.items():
        assert loaded[name] == p


def test_pointwise_prf_null_perfect_and_hand_case():
    label = np.array([0, 1, 1, 0, 0, 1, 0, 0])
    assert prf(np.zeros(8), label)["f1"] == 0.0
    assert prf(label, label) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    r = prf(np.array([0, 1, 0, 1, 0, 0, 0, 0]), label)  # tp 1, fp 1, fn 2
    assert r["precision"] == 0.5 and r["recall"] == pytest.approx(1 / 3) and r["f1"] == pytest.approx(0.4)


def test_best_f1_equals_brute_force():
    rng = np.random.default_rng(2)
    label = (rng.random(300) < 0.1).astype(int)
    scores = np.round(rng.random(300) + 0.5 * label, 2)
    f1, t = best_f1(scores, label)
    brute = max(prf(scores >= u, label)["f1"] for u in np.unique(scores))
    assert f1 == pytest.approx(brute) and prf(scores >= t, label)["f1"] == pytest.approx(brute)


def test_point_adjust_and_its_sweep():
    label = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0])
    pred = np.array([0, 0, 1, 0, 1, 0, 0, 0, 0])
    assert point_adjust(pred, label).tolist() == [0, 1, 1, 1, 1, 0, 0, 0, 0]
    rng = np.random.default_rng(3)
    lab = np.zeros(200, dtype=int)
    lab[20:40] = 1
    lab[100:103] = 1
    lab[150:180] = 1
    sc = np.round(rng.random(200), 2)
    brute = max(prf(point_adjust(sc >= u, lab), lab)["f1"] for u in np.unique(sc))
    assert best_f1_point_adjusted(sc, lab) == pytest.approx(brute)


def test_event_detection_and_lead():
    alerts = np.array([0, 0, 0, 1, 1, 0, 0, 0, 0, 1])
    ev = event_detection(alerts, [(1, 4), (6, 8)])
    assert ev.first_alert == [3, None] and ev.recall == 0.5 and ev.lead_steps() == [2]


def test_hitrate_hand_cases():
    contrib = np.array([[5.0, 4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    truth = [(0, 2, [0, 3])]
    # row 0: top-2 = {0, 1} -> 1/2; row 1: top-2 = {4, 3} -> 1/2
    assert hitrate(contrib, truth, 1.0) == pytest.approx(0.5)
    # @150%: top-3: row 0 {0,1,2} -> 1/2, row 1 {4,3,2} -> 1/2
    assert hitrate(contrib, truth, 1.5) == pytest.approx(0.5)
    assert hitrate(contrib, [(0, 1, [0, 1])], 1.0) == 1.0
    assert hitrate(np.full((2, 5), np.nan), truth, 1.0) is None


def test_best_baseline_counts_the_nab_baselines_with_the_episode_rule():
    from evaluation.report import best_baseline

    ev = {
        "baselines": {
            "zscore": {"nab": {"standard": 36.2}, "smd": {"f1_pointwise": 0.04, "hitrate_150": None}},
            "autoencoder": {"nab": {"standard": 4.8}, "smd": {"f1_pointwise": 0.38, "hitrate_150": None}},
        }
    }
    run = {"nab_baselines_episodes": {"autoencoder": {"standard": 56.5}, "zscore": {"standard": 42.0}}}
    assert best_baseline(ev, run, "nab", "standard") == 56.5
    assert best_baseline(ev, {}, "nab", "standard") == 36.2
    assert best_baseline(ev, run, "smd", "f1_pointwise") == 0.38
    assert best_baseline(ev, run, "smd", "hitrate_150") is None


def test_seed_spread_table_lists_every_seed_and_the_mean():
    from evaluation.report import seed_lines

    assert seed_lines(None) == []
    spread = {
        "seeds": [42, 1],
        "f1_pointwise": [0.4, 0.2],
        "precision": [0.5, 0.3],
        "recall": [0.6, 0.2],
        "f1_best": [0.7, 0.7],
        "hitrate_150": [0.8, 0.9],
        "f1_pointwise_mean": 0.3,
        "precision_mean": 0.4,
        "recall_mean": 0.4,
        "f1_best_mean": 0.7,
        "hitrate_150_mean": 0.85,
        "per_entity_f1": {"machine-1-1": [0.5, 0.1], "machine-1-2": [0.3, 0.3], "quiet": [None, None]},
    }
    rows = [line for line in seed_lines(spread) if line.startswith("| ")]
    assert rows[0].endswith("| F1 1-1 | F1 1-2 | F1 quiet |")
    assert rows[1] == "| 42 | 0.400 | 0.500 | 0.600 | 0.700 | 0.800 | 0.500 | 0.300 | - |"
    assert rows[3] == "| mean | 0.300 | 0.400 | 0.400 | 0.700 | 0.850 | 0.300 | 0.300 | - |"


def test_nab_seed_table_lists_every_seed_and_the_mean():
    from evaluation.report import nab_seed_lines

    assert nab_seed_lines(None) == []
    spread = {
        "seeds": [42, 1],
        "standard": [64.5, 63.3],
        "reward_low_fp": [55.3, 53.4],
        "reward_low_fn": [69.4, 68.4],
        "windows_detected": ["92/116", "91/116"],
        "false_positives": [206, 222],
        "standard_mean": 63.9,
        "reward_low_fp_mean": 54.35,
        "reward_low_fn_mean": 68.9,
        "false_positives_mean": 214.0,
    }
    rows = [line for line in nab_seed_lines(spread) if line.startswith("| ")]
    assert rows[1] == "| 42 | 64.5 | 55.3 | 69.4 | 92/116 | 206 |"
    assert rows[3] == "| mean | 63.9 | 54.4 | 68.9 | | 214 |"
