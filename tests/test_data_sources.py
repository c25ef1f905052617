"""Training inputs (CSV, JSONL, NPY) and replay records go through the same parser and features."""

import json

import numpy as np
import pytest

from detector.engine import featurize
from detector.features import N_PER_METRIC
from generator.replay import replay_records
from training.data import file_events


def test_jsonl_csv_and_npy_give_the_same_events(cfg, tmp_path):
    rows = [
        {
            "timestamp": 1_795_000_000_000 + i * 1000,
            "host": "h",
            "service": "s",
            **{m: float(i + j) for j, m in enumerate(cfg.stream.metrics)},
        }
        for i in range(40)
    ]
    jsonl = tmp_path / "h.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    csv = tmp_path / "h.csv"
    header = ["timestamp", "host", "service", *cfg.stream.metrics]
    csv.write_text("\n".join([",".join(header)] + [",".join(str(r[c]) for c in header) for r in rows]) + "\n")
    a = list(file_events(jsonl, cfg))
    b = list(file_events(csv, cfg))
    assert len(a) == 40 and a == b
    npy = tmp_path / "h.npy"
    np.save(npy, np.array([[r[m] for m in cfg.stream.metrics] for r in rows]))
    c = list(file_events(npy, cfg, interval_ms=1000))
    assert [e.values for e in c] == [e.values for e in a]
    x, keys, _ = featurize(a, cfg)
    assert x.shape == (40 - cfg.window.warmup + 1, len(cfg.stream.metrics) * N_PER_METRIC) and set(keys) == {
        "h/s"
    }


def test_an_empty_csv_cell_is_a_missing_metric_not_a_bad_row(cfg, tmp_path, capsys):
    m0, m1 = cfg.stream.metrics[:2]
    f = tmp_path / "h.csv"
    f.write_text(f"timestamp,host,service,{m0},{m1}\n1795000000000,h,s,1.5,\n1795000001000,h,s,2.5,3\n")
    events = list(file_events(f, cfg))
    assert [e.values for e in events] == [{m0: 1.5}, {m0: 2.5, m1: 3.0}]
    assert "skipped" not in capsys.readouterr().err


def test_npy_with_wrong_width_is_refused(cfg, tmp_path):
    f = tmp_path / "bad.npy"
    np.save(f, np.zeros((10, 3)))
    with pytest.raises(ValueError, match="expected shape"):
        list(file_events(f, cfg))


def test_replay_records_from_npy_and_csv(tmp_path):
    f = tmp_path / "machine-1.npy"
    np.save(f, np.arange(6, dtype=np.float32).reshape(3, 2))
    recs = list(replay_records(f, ["host"], ["a", "b"], 1_795_000_000_000, 60_000))
    assert recs[1] == {"timestamp": 1_795_000_060_000, "host": "machine-1", "a": 2.0, "b": 3.0}
    nab = tmp_path / "ec2_cpu.csv"
    nab.write_text("timestamp,value\n2014-02-14 14:30:00,0.132\n2014-02-14 14:35:00,0.134\n")
    recs = list(replay_records(nab, ["host"], None, 0, 0))
    assert recs[0]["value"] == 0.132 and recs[1]["timestamp"] - recs[0]["timestamp"] == 300_000
