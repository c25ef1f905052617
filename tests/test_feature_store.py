import numpy as np

from feature_store.keys import decode_vector, encode_vector, latest_key
from feature_store.store import FeatureRow, InMemoryFeatureStore
from feature_store.writer import BufferedFeatureWriter


def row(i):
    return FeatureRow(f"e{i % 3}", i, np.arange(4, dtype=float) + i)


def test_key_format_and_encoding():
    assert latest_key("web-1/checkout") == "sentinel:fs:latest:web-1/checkout"
    v = np.array([1.5, -2.0, 3.25])
    np.testing.assert_array_equal(decode_vector(encode_vector(v)), v)


def test_writer_batches_by_size_and_age():
    store = InMemoryFeatureStore()
    w = BufferedFeatureWriter(store, batch_size=10, flush_interval_ms=100)
    for i in range(9):
        w.add(row(i), now_ms=1000)
        w.maybe_flush(1000)
    assert store.history == []
    w.add(row(9), 1000)
    w.maybe_flush(1000)
    assert len(store.history) == 10 and w.counters.flushes == 1
    w.add(row(10), 1000)
    w.maybe_flush(1050)
    assert len(store.history) == 10
    w.maybe_flush(1100)
    assert len(store.history) == 11
    latest = store.read_latest("e1")
    assert latest is not None and latest.timestamp_ms == 10


class FlakyStore(InMemoryFeatureStore):
    def __init__(self):
        super().__init__()
        self.down = True

    def write_batch(self, rows):
        if self.down:
            raise ConnectionError("redis is down")
        super().write_batch(rows)


def test_outage_buffers_within_a_bound_then_resumes():
    store = FlakyStore()
    w = BufferedFeatureWriter(store, batch_size=5, flush_interval_ms=10, max_buffer=20, backoff_ms=(100, 400))
    for i in range(30):
        w.add(row(i), 1000)
        w.maybe_flush(1000 + i)  # never raises
    assert w.counters.failures >= 1 and len(w.buffer) == 20 and w.counters.dropped == 10
    store.down = False
    w.maybe_flush(5000, force=True)
    assert len(store.history) == 20 and not w.buffer
    assert [r.timestamp_ms for r in store.history] == list(range(10, 30))
