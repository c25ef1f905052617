"""The pure detection step on simulated incidents: what the job computes, without Flink."""

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from alerting.dedupe import AlertDeduper
from detector.baseline import StaticThresholds
from detector.engine import EntityDetector, featurize
from detector.events import MetricEvent, parse_event
from detector.features import N_PER_METRIC
from detector.windows import EntityState
from embedded.report import score_alerts
from generator.simulate import INCIDENT_TYPES, Fleet, FleetSpec
from training.data import simulated_events

T0 = 1_800_000_000_000


def run(detector, events):
    states: dict[str, EntityState] = {}
    anomalies, scores = [], []
    for ev in events:
        st = states.setdefault(ev.key, detector.new_state())
        out = detector.step(st, ev, ev.timestamp_ms)
        anomalies += out.anomalies
        scores += out.scores
    return anomalies, scores


def simulated_incidents(cfg, hosts=40, steps=150, count=10):
    fleet = Fleet(FleetSpec(hosts=hosts, seed=321))
    incidents = fleet.schedule_incidents(45, steps, count, T0)
    events = [
        parse_event(json.dumps(e), cfg.stream.entity_labels, cfg.stream.metrics)
        for e in fleet.events(T0, steps)
    ]
    return incidents, events


def test_detects_every_incident_type_with_few_false_alerts(fitted, cfg):
    # 20 incidents over 300 steps: one false alert moves precision by ~0.05, not ~0.1 as with 10
    incidents, events = simulated_incidents(cfg, steps=300, count=20)
    anomalies, scores = run(EntityDetector(cfg, fitted.model), events)
    dedupe = AlertDeduper(cfg.alert.cooldown_s)
    report = score_alerts(incidents, [a for a in anomalies if dedupe.offer(a)], len(events), 40)
    assert report["precision"] >= 0.9 and report["recall"] >= 0.9, report
    assert set(report["recall_by_type"]) == set(INCIDENT_TYPES)
    assert sum(s["status"] == "warming_up" for s in scores) == 40 * (cfg.window.warmup - 1)
    a = anomalies[0]
    assert {
        "key",
        "event_time",
        "detected_at",
        "score",
        "threshold",
        "severity",
        "model_version",
        "contributors",
    } <= set(a)
    assert a["score"] > a["threshold"] and a["contributors"][0]["metric"] in cfg.stream.metrics


def test_contributors_name_the_metric_that_broke(fitted, cfg):
    incidents, events = simulated_incidents(cfg)
    anomalies, _ = run(EntityDetector(cfg, fitted.model), events)
    expect = {
        "cpu_spike": "cpu_usage",
        "memory_leak": "memory_usage",
        "slow_responses": "response_time_ms",
        "disk_saturation": "disk_io_mb",
    }
    for inc in incidents:
        if inc.kind not in expect:
            continue
        first = next(a for a in anomalies if a["key"] == inc.key and a["event_time_ms"] >= inc.start_ms)
        assert first["contributors"][0]["metric"] == expect[inc.kind], (inc, first["contributors"])


def test_static_baseline_misses_the_subtle_multi_metric_incident(cfg):
    incidents, events = simulated_incidents(cfg)
    base = StaticThresholds(list(cfg.stream.metrics)).fit(
        simulated_events(FleetSpec(hosts=40, seed=42), 500, T0, cfg)
    )
    dedupe = AlertDeduper(cfg.alert.cooldown_s)
    report = score_alerts(incidents, [a for a in base.detect(events) if dedupe.offer(a)], len(events), 40)
    assert report["recall_by_type"]["multi_metric"] < 0.5


def test_featurize_matches_the_stream_step(fitted, cfg):
    _, events = simulated_incidents(cfg, hosts=3, steps=60, count=0)
    x, keys, times = featurize(events, cfg)
    no_drift = dataclasses.replace(cfg, window=dataclasses.replace(cfg.window, drift_halflife_h=0.0))
    _, scores = run(EntityDetector(no_drift, fitted.model), events)
    scored = [s for s in scores if s["status"] != "warming_up"]
    assert len(scored) == len(x)
    by_key_time = {(s["key"], s["event_time_ms"]): s["score"] for s in scored}
    offline = fitted.model.score(x).score
    for k, t, sc in zip(keys, times, offline, strict=True):
        assert abs(by_key_time[(k, int(t))] - sc) < 1e-5


class StandInModel:
    """The fields ``EntityDetector`` reads from a model, for stand-ins that only define ``score``: two
    metrics ``a`` and ``b``, threshold 1.5, no range, runs or seasonal stage; its batches carry no residual,
    so its entities learn no drift offset."""

    metrics: tuple[str, ...] = ("a", "b")
    threshold = 1.5
    version = "stand-in"
    value_range: np.ndarray | None = None
    value_runs: np.ndarray | None = None
    seasonal = None
    feature_mean = np.zeros(2 * N_PER_METRIC)
    feature_scale = np.ones(2 * N_PER_METRIC)
    encoder = decoder = SimpleNamespace(weights=[], biases=[])  # what the drift fingerprint reads


def records_after(det: EntityDetector, normal: list, rows: list) -> list:
    """Score records of ``rows`` (pairs of values of a and b, one per second) streamed after ``normal``,
    with the job's state round trip through bytes after every event."""
    st = det.new_state()
    records = []
    for t, (a, b) in enumerate(normal + rows):
        out = det.step(st, MetricEvent("k", 1000 * (t + 1), {"a": a, "b": b}), 0)
        st = EntityState.from_bytes(st.to_bytes())
        records += out.scores
    return records[len(normal) :]


class LastValueModel(StandInModel):
    """A stand-in model for one metric ``a``: the score is the metric's last value."""

    metrics = ("a",)
    version = "fixed"
    feature_mean = np.zeros(N_PER_METRIC)
    feature_scale = np.ones(N_PER_METRIC)

    def __init__(self, threshold: float):
        self.threshold = threshold

    def score(self, feats, offset=None):
        from detector.model import ScoreBatch

        v = np.array([feats[0]])
        return ScoreBatch(v, v, v, np.ones((1, 1)), np.zeros((1, 1)))


def episode_starts(values: list[float], threshold: float, max_gap: int = 255) -> list[bool]:
    """``episode_start`` of each anomaly when ``values`` are scored as they are (1 of 1, a gap of 3 calm
    rows), after warm-up; the state goes through its bytes on every event, as in the job."""
    from detector.config import load_config

    overrides = ["stream.metrics=a", "alert.k=1", "alert.n=1", "alert.episode_gap=3"]
    cfg = load_config(env={}, overrides=[*overrides, f"alert.episode_max_gap={max_gap}"])
    det = EntityDetector(cfg, LastValueModel(threshold))  # type: ignore[arg-type]
    st = det.new_state()
    starts = []
    for t, v in enumerate([0.0] * cfg.window.warmup + values):
        out = det.step(st, MetricEvent("k", 1000 * (t + 1), {"a": float(v)}), 0)
        starts += [a["episode_start"] for a in out.anomalies]
        st = EntityState.from_bytes(st.to_bytes())
    return starts


def test_anomalies_mark_the_start_of_an_episode():
    assert episode_starts([5, 5, 0, 5, 0, 0, 0, 5], threshold=1.0) == [True, False, False, True]


def test_an_episode_ends_only_after_calm_rows_or_the_max_gap():
    """Rows scoring between the normal 99th percentile (1.0) and the threshold keep an episode open:
    only rows at or below 1.0 count towards ``alert.episode_gap``, and the rows between neither reset
    nor advance that count. After ``alert.episode_max_gap`` rows without an anomaly, calm or not, an
    anomaly opens an episode anyway (an entity that is never calm still pages)."""
    # anomaly; five rows above normal but below the threshold; anomaly (same episode); three calm rows
    # (1.0 is calm) with an unusual row among them; anomaly (a new episode)
    values = [5, 1.5, 1.5, 1.5, 1.5, 1.5, 5, 0, 1.5, 1.0, 0, 5]
    assert episode_starts(values, threshold=2.0) == [True, False, True]
    # the same rows with a max gap of 5: the five unusual rows end the first episode
    assert episode_starts(values, threshold=2.0, max_gap=5) == [True, True, True]
    # two calm rows are not enough
    assert episode_starts([5, 0, 1.5, 0, 5], threshold=2.0) == [True, False]


def test_contributors_rank_metrics_by_their_smoothed_error():
    """An anomaly names the metrics that have been off over recent unusual rows (EW of each row's
    per-metric error: ``alert.contributor_alpha`` for rows scoring above the normal 99th percentile,
    ``alert.contributor_alpha_normal`` for the rest), not just the loudest metric of its own row."""
    from detector.config import load_config
    from detector.model import ScoreBatch

    class TwoMetrics(StandInModel):
        """A stand-in model: metric a's error is its value, metric b's error is its value."""

        version = "fixed"

        def score(self, feats, offset=None):
            err = np.array([[feats[0], feats[14]]])
            s = np.array([max(feats[0], feats[14])])
            return ScoreBatch(s, s, s, err, np.zeros((1, 2)))

    def first_contributor(alpha: float, alpha_normal: float, a_level: float, threshold: float = 1.5) -> str:
        cfg = load_config(
            env={},
            overrides=[
                "stream.metrics=a,b",
                "alert.k=1",
                "alert.n=1",
                f"alert.contributor_alpha={alpha}",
                f"alert.contributor_alpha_normal={alpha_normal}",
            ],
        )
        model = TwoMetrics()
        model.threshold = threshold
        det = EntityDetector(cfg, model)  # type: ignore[arg-type]
        st = det.new_state()
        # a is off (a_level) for 20 rows, then b jumps once to 2.0
        rows = [(0.0, 0.0)] * cfg.window.warmup + [(a_level, 0.0)] * 20 + [(a_level, 2.0)]
        out = None
        for t, (a, b) in enumerate(rows):
            out = det.step(st, MetricEvent("k", 1000 * (t + 1), {"a": a, "b": b}), 0)
            st = EntityState.from_bytes(st.to_bytes())
        assert out is not None and len(out.anomalies) == 1
        return out.anomalies[0]["contributors"][0]["metric"]

    assert first_contributor(1.0, 1.0, 0.8) == "b"  # this row only
    # a unusual (1.2: above the normal 99th percentile, calibrated 1) for 20 rows outweighs b's one row
    assert first_contributor(0.05, 0.0, 1.2) == "a"  # 1.2*(1-0.95^21) > 0.05*2.0
    # a only noisy (0.8: a normal row): its rows do not count, b's unusual row does
    assert first_contributor(0.05, 0.0, 0.8) == "b"
    assert first_contributor(0.05, 0.05, 0.8) == "a"  # unless normal rows count as much
    # a model whose threshold sits below the normal 99th percentile: rows above it count as unusual
    assert first_contributor(0.05, 0.0, 0.8, threshold=0.5) == "a"


def test_an_unusual_row_with_a_value_beyond_every_value_seen_alerts_at_once():
    """A range break: a value more than ``alert.range_tolerance`` of the known range beyond it (the model's
    training range joined with what the entity streamed), on a row the model scores above the normal 99th
    percentile, is an anomaly without waiting for k of n; a break on a row the model finds normal is not."""
    from detector.config import load_config
    from detector.model import ScoreBatch

    class OutsideUnitRange(StandInModel):
        """A stand-in model: 1.2 (unusual, below the threshold) when a is outside [0, 1], else 0."""

        def score(self, feats, offset=None):
            s = np.array([1.2 if not 0.0 <= feats[0] <= 1.0 else 0.0])
            return ScoreBatch(s, s, s, np.ones((1, 2)), np.zeros((1, 2)))

    trained = np.array([[0.0, 4.0], [1.0, 6.0]])  # the range of the rows the model was trained on

    def run_values(rows, tolerance=0.05, value_range=trained):
        cfg = load_config(env={}, overrides=["stream.metrics=a,b", f"alert.range_tolerance={tolerance}"])
        model = OutsideUnitRange()
        model.value_range = value_range
        # a in [0, 1], b in [4, 6]; the state's round trip keeps the range
        normal = [(float(i % 11) / 10, 4.0 + float(i % 3)) for i in range(cfg.window.warmup + 20)]
        return records_after(EntityDetector(cfg, model), normal, rows)  # type: ignore[arg-type]

    quiet = (0.5, 5.0)
    rows = [(1.04, 5.0), quiet, quiet, (1.2, 5.0), quiet, quiet, (1.21, 5.0), quiet, quiet, (-0.2, 5.0)]
    recs = run_values([*rows, quiet, quiet, (0.5, 7.0)])
    status = [r["status"] for r in recs]
    # 1.04: unusual, 0.8 tolerances out; 1.2: a break of [0, 1.04]; 1.21: within [0, 1.2]
    assert status[:10] == ["normal"] * 3 + ["anomaly"] + ["normal"] * 5 + ["anomaly"]
    assert recs[3]["beyond_range"] == ["a"] and recs[3]["episode_start"] is True
    # its score is the threshold times the excess in tolerances of the range known then, [0, 1.04]
    assert recs[3]["score"] == pytest.approx(1.5 * 0.16 / (0.05 * 1.04), rel=1e-5)
    assert recs[9]["beyond_range"] == ["a"]  # below the lowest value, too
    assert all("beyond_range" not in r for i, r in enumerate(recs) if i not in (3, 9))
    assert status[-1] == "normal"  # b broke its range, but the model scores the row 0: no alert
    # the rule off, a model that saw a wider range, or one exported without its range: no range break,
    # no score above the threshold, so no anomaly
    assert "anomaly" not in [r["status"] for r in run_values(rows, tolerance=0.0)]
    wide = np.array([[-1.0, 0.0], [2.0, 10.0]])
    assert "anomaly" not in [r["status"] for r in run_values(rows, value_range=wide)]
    assert "anomaly" not in [r["status"] for r in run_values(rows, value_range=None)]


def test_a_range_break_during_an_ongoing_episode_opens_an_episode_of_its_own():
    """A new extreme is news even while the entity is already in an anomaly episode: it is marked
    ``episode_start`` unless another range break was within ``alert.episode_gap`` rows."""
    from detector.config import load_config
    from detector.model import ScoreBatch

    class HighB(StandInModel):
        """A stand-in model: 2 (above the threshold) while b is above 5.5, else 0."""

        value_range = np.array([[0.0, 4.0], [1.0, 6.0]])

        def score(self, feats, offset=None):
            s = np.array([2.0 if feats[N_PER_METRIC] > 5.5 else 0.0])
            return ScoreBatch(s, s, s, np.ones((1, 2)), np.zeros((1, 2)))

    cfg = load_config(env={}, overrides=["stream.metrics=a,b", "alert.k=3", "alert.n=3"])
    det = EntityDetector(cfg, HighB())  # type: ignore[arg-type]
    st = det.new_state()
    normal = [(0.5, 5.0)] * (cfg.window.warmup + 5)
    episode = [(0.5, 6.0)] * 10  # anomalies from the third row on (3 of 3), one episode
    # a second break 40 rows into the same unbroken episode: still a start (the gap counts rows since the
    # last break, anomalies included)
    rows = normal + episode[:5] + [(1.5, 6.0), (2.0, 6.0)] + episode[5:] + [(0.5, 6.0)] * 40 + [(2.6, 6.0)]
    rows += [(0.5, 5.0)] * 40 + [(3.5, 6.0)]
    starts: list[tuple[int, bool, bool]] = []
    for t, (a, b) in enumerate(rows):
        out = det.step(st, MetricEvent("k", 1000 * (t + 1), {"a": a, "b": b}), 0)
        st = EntityState.from_bytes(st.to_bytes())  # the job's round trip keeps both counters
        starts += [(t - len(normal), a["episode_start"], "beyond_range" in a) for a in out.anomalies]
        # the record says which rule raised it: a range break, or the model's score (no seasonal stage)
        assert all(
            a["driven_by"] == ("range_break" if "beyond_range" in a else "model") for a in out.anomalies
        )
    opened = [(t, brk) for t, start, brk in starts if start]
    # the episode opens at its third row; the break at row 5 opens another, the break right after it
    # does not; the break at row 52, with anomalies on every row since row 2, does; 40 normal rows later
    # a break opens a new episode as any anomaly would
    assert opened == [(2, False), (5, True), (52, True), (93, True)]
    assert (6, False, True) in starts and (51, False, False) in starts


def test_a_state_saved_under_another_stream_shape_starts_over_instead_of_failing(fitted, cfg):
    """A restore after adding a metric or changing window.long (or of a corrupt state) must not fail
    the job on each of the entity's events: the entity warms up again, and the caller learns why."""
    det = EntityDetector(cfg, fitted.model)
    _, events = simulated_incidents(cfg, hosts=1, steps=40, count=0)
    state = det.new_state()
    for ev in events:
        det.step(state, ev, ev.timestamp_ms)
    saved = state.to_bytes()
    same, reason = det.restore_state(saved)
    assert reason is None and same.to_bytes() == saved

    longer = dataclasses.replace(cfg, window=dataclasses.replace(cfg.window, long=60, warmup=60))
    fresh, reason = EntityDetector(longer, fitted.model).restore_state(saved)
    assert reason is not None and "window.long 30; now 5 and 60" in reason
    assert fresh.count == 0 and fresh.ring.shape == (60, 5)

    other_metrics = EntityState.new(len(cfg.stream.metrics) + 1, cfg.window.long).to_bytes()
    fresh, reason = det.restore_state(other_metrics)
    assert reason is not None and "saved with 6 metrics" in reason and fresh.ring.shape == (30, 5)

    for corrupt in (b"", b"S7" + saved[2:10], b"S0" + saved[2:]):
        fresh, reason = det.restore_state(corrupt)
        assert reason is not None and reason.startswith("undecodable") and fresh.count == 0
    # the step goes on from the new state: the entity is warming up again
    out = det.step(fresh, events[0], events[0].timestamp_ms)
    assert [r["status"] for r in out.scores] in ([], ["warming_up"])


def test_a_metric_unchanged_for_longer_than_ever_seen_alerts_once_per_run():
    """A stuck entity: every metric that varied in training repeated its value for more rows than
    ``alert.stuck_rows`` and than any run the model saw in training or the entity streamed; it alerts at
    once, once per spell, whatever the model says. A metric constant throughout training (NaN run) is
    left out; with two varying metrics, one frozen is not enough."""
    from detector.config import load_config
    from detector.model import ScoreBatch

    class Calm(StandInModel):
        """A stand-in model that scores every row 0 (a flat line looks ordinary to it)."""

        value_runs = np.array([15.0, np.nan])  # a repeated a value 15 rows at most; b never changed

        def score(self, feats, offset=None):
            s = np.zeros(1)
            return ScoreBatch(s, s, s, np.ones((1, 2)), np.zeros((1, 2)))

    def run_rows(rows, stuck_rows=12, runs=Calm.value_runs):
        cfg = load_config(env={}, overrides=["stream.metrics=a,b", f"alert.stuck_rows={stuck_rows}"])
        model = Calm()
        model.value_runs = runs
        normal = [(float(i % 7), 3.0) for i in range(cfg.window.warmup + 20)]  # the round trip keeps the runs
        return records_after(EntityDetector(cfg, model), normal, rows)  # type: ignore[arg-type]

    # a stuck at 9.0 for 30 rows: the 16th row of the run is longer than the model's 15
    recs = run_rows([(9.0, 3.0)] * 30 + [(1.0, 3.0)] + [(9.0, 3.0)] * 35)
    stuck = [i for i, r in enumerate(recs) if r["status"] == "anomaly"]
    assert stuck == [15, 61]  # the second run (from row 31) must outlast the first, 30 rows: its 31st
    first = recs[15]
    assert first["stuck"] == ["a"] and first["stuck_rows"] == 16 and first["episode_start"] is True
    assert first["score"] == pytest.approx(1.5 * 1.5)
    assert all("stuck" not in r for i, r in enumerate(recs) if i not in stuck)
    # off, a model exported without runs, or a bigger floor than the run: no anomaly
    rows = [(9.0, 3.0)] * 30
    assert "anomaly" not in [r["status"] for r in run_rows(rows, stuck_rows=0)]
    assert "anomaly" not in [r["status"] for r in run_rows(rows, runs=None)]
    assert "anomaly" not in [r["status"] for r in run_rows(rows, stuck_rows=40)]
    # both metrics varied in training: a frozen while b moves is not stuck; both frozen is, once
    both = np.array([15.0, 15.0])
    moving_b = [(9.0, float(i % 2)) for i in range(30)]
    assert "anomaly" not in [r["status"] for r in run_rows(moving_b, runs=both)]
    recs = run_rows([(9.0, 3.0)] * 30, runs=both)  # b has not changed since the warm-up rows either
    assert [i for i, r in enumerate(recs) if r["status"] == "anomaly"] == [15]
    assert recs[15]["stuck"] == ["a", "b"] and recs[15]["stuck_rows"] == 16


def test_a_stuck_spell_alerts_once_across_warm_up_and_model_reloads():
    """Once per spell: also when the run passed its limit during warm-up (the first scored row alerts),
    when a reloaded model lowers the limit mid-spell (one alert), and when a refitted model learned the
    spell itself as a run (no second alert)."""
    from detector.config import load_config
    from detector.model import ScoreBatch

    class Calm(StandInModel):
        def score(self, feats, offset=None):
            s = np.zeros(1)
            return ScoreBatch(s, s, s, np.ones((1, 2)), np.zeros((1, 2)))

    cfg = load_config(env={}, overrides=["stream.metrics=a,b"])

    def stream(det, st, rows, t0):
        out = []
        for t, (a, b) in enumerate(rows):
            recs = det.step(st, MetricEvent("k", 1000 * (t0 + t + 1), {"a": a, "b": b}), 0).scores
            out += [r for r in recs if r["status"] != "warming_up"]
        return EntityState.from_bytes(st.to_bytes()), out

    def anomalies(recs):
        return [i for i, r in enumerate(recs) if r["status"] == "anomaly"]

    model = Calm()
    model.value_runs = np.array([15.0, np.nan])
    det = EntityDetector(cfg, model)  # type: ignore[arg-type]
    # frozen from its first row: the run passes 15 in warm-up, and the first scored row alerts
    st, recs = stream(det, det.new_state(), [(9.0, 3.0)] * (cfg.window.warmup + 10), 0)
    assert anomalies(recs) == [0] and recs[0]["stuck_rows"] == cfg.window.warmup
    # a refit that learned this spell as a run (its length so far) does not alert again
    model.value_runs = np.array([float(cfg.window.warmup + 10), np.nan])
    st, recs = stream(det, st, [(9.0, 3.0)] * 20, cfg.window.warmup + 10)
    assert anomalies(recs) == []
    # a new spell, with a reload to a higher limit and then a lower one in the middle of it: one alert,
    # on the first row the lower limit is in force
    model.value_runs = np.array([100.0, np.nan])
    moving = [(float(i % 7), 3.0) for i in range(10)]
    st, recs = stream(det, st, moving + [(9.0, 3.0)] * 60, 1000)
    assert anomalies(recs) == []
    model.value_runs = np.array([15.0, np.nan])
    st, recs = stream(det, st, [(9.0, 3.0)] * 20, 2000)
    assert anomalies(recs) == [0]


def test_drift_offset_absorbs_a_lasting_level_and_restarts_under_another_model(fitted, cfg):
    """A metric that settles at a new level: its scores fall as the week-scale offset learns it (and are
    exactly the model's scores with the offsets the stream used); a reloaded model starts from zero."""
    week_h = 60 / 3600  # a minute of the fleet's 1-second rows: a few hundred rows show it
    dcfg = dataclasses.replace(cfg, window=dataclasses.replace(cfg.window, drift_halflife_h=week_h))
    det = EntityDetector(dcfg, fitted.model)
    assert det.drift and det.drift_fingerprint != 0
    det.record_offsets = True
    off = EntityDetector(
        dataclasses.replace(dcfg, window=dataclasses.replace(dcfg.window, drift_halflife_h=0.0)), fitted.model
    )
    assert not off.drift
    events = list(simulated_events(FleetSpec(hosts=1, seed=5), 900, T0, cfg))
    metric = cfg.stream.metrics[0]
    shifted = [  # from row 300 on, the first metric 25 units higher
        MetricEvent(e.key, e.timestamp_ms, dict(e.values, **{metric: e.values[metric] + 25.0}))
        if e.timestamp_ms >= T0 + 300_000
        else e
        for e in events
    ]
    state, plain = det.new_state(), off.new_state()
    scores, plain_scores, feats, offsets, at_once = [], [], [], [], []
    for e in shifted:
        out = det.step(state, e, e.timestamp_ms)
        state = EntityState.from_bytes(state.to_bytes())  # as the job stores it between events
        plain_out = off.step(plain, e, e.timestamp_ms)
        for rec, (_, f), o in zip(
            [r for r in out.scores if "score" in r], out.features, out.drift_offsets, strict=True
        ):
            scores.append(rec["score"])
            at_once.append("beyond_range" in rec or "stuck" in rec)
            feats.append(f)
            offsets.append(o)
        plain_scores += [r["score"] for r in plain_out.scores if "score" in r]
        assert not plain_out.drift_offsets and plain.drift.shape == (0,)
    scores_a, plain_a = np.array(scores), np.array(plain_scores)
    assert (
        state.drift.shape == (fitted.model.feature_mean.shape[0],)
        and state.drift_model == det.drift_fingerprint
    )
    n = len(scores_a)
    first = 300 - cfg.window.warmup  # the first shifted row among the scored ones
    early, late = slice(first, first + 30), slice(n - 100, n)  # just after the shift, and ten half-lives on
    assert plain_a[early].mean() > 1.5 and plain_a[late].mean() > 1.5  # without the offset it stays off
    assert scores_a[early].mean() > 1.5  # the shift is news at first ...
    assert scores_a[late].mean() < 0.5 * plain_a[late].mean()  # ... and the new normal a while later
    batch = fitted.model.score(np.array(feats), np.array(offsets))
    model_rows = ~np.array(at_once)  # a range break's record score is its excess, not the model's
    assert model_rows.sum() > n - 5
    np.testing.assert_allclose(batch.score[model_rows], scores_a[model_rows], atol=1e-5)
    # another model (another scaler): the offset is void and starts again from zero
    other = dataclasses.replace(fitted.model, feature_mean=fitted.model.feature_mean + 1e-3)
    det2 = EntityDetector(dcfg, other)
    assert det2.drift_fingerprint != det.drift_fingerprint
    last = shifted[-1]
    det2.step(state, MetricEvent(last.key, last.timestamp_ms + 1000, last.values), last.timestamp_ms + 1000)
    assert state.drift_model == det2.drift_fingerprint
