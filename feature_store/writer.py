"""Buffered, outage-tolerant feature writes: batch by size or age, back off when the store fails,
keep at most ``max_buffer`` rows (dropping the oldest, counted), never raise into the pipeline.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from feature_store.store import FeatureRow, FeatureStore

log = logging.getLogger(__name__)


@dataclass
class WriterCounters:
    written: int = 0
    dropped: int = 0
    failures: int = 0
    flushes: int = 0


class BufferedFeatureWriter:
    """Call :meth:`add` per row and :meth:`maybe_flush` with the current time (ms)."""

    def __init__(
        self,
        store: FeatureStore,
        batch_size: int = 256,
        flush_interval_ms: int = 200,
        max_buffer: int = 50_000,
        backoff_ms: tuple[int, int] = (500, 10_000),
    ):
        self.store = store
        self.batch_size = batch_size
        self.flush_interval_ms = flush_interval_ms
        self.buffer: deque[FeatureRow] = deque()
        self.max_buffer = max_buffer
        self.counters = WriterCounters()
        self._oldest_ms: int | None = None
        self._retry_at = 0
        self._backoff = backoff_ms[0]
        self._backoff_range = backoff_ms

    def add(self, row: FeatureRow, now_ms: int) -> None:
        if len(self.buffer) >= self.max_buffer:
            self.buffer.popleft()
            self.counters.dropped += 1
        self.buffer.append(row)
        if self._oldest_ms is None:
            self._oldest_ms = now_ms

    def due(self, now_ms: int) -> bool:
        """True when a flush should happen now."""
        if not self.buffer or now_ms < self._retry_at:
            return False
        return len(self.buffer) >= self.batch_size or (
            self._oldest_ms is not None and now_ms - self._oldest_ms >= self.flush_interval_ms
        )

    def maybe_flush(self, now_ms: int, force: bool = False) -> None:
        """Flush if due (or ``force``); on failure keep the rows and back off."""
        if not (self.due(now_ms) or (force and self.buffer and now_ms >= self._retry_at)):
            return
        while self.buffer:
            batch = [self.buffer[i] for i in range(min(self.batch_size * 4, len(self.buffer)))]
            try:
                self.store.write_batch(batch)
            except Exception as e:  # any store failure degrades the store, never the detection
                self.counters.failures += 1
                self._retry_at = now_ms + self._backoff
                self._backoff = min(self._backoff * 2, self._backoff_range[1])
                log.warning(
                    "feature store write failed (%s); %d rows buffered", type(e).__name__, len(self.buffer)
                )
                return
            for _ in batch:
                self.buffer.popleft()
            self.counters.written += len(batch)
            self.counters.flushes += 1
            self._backoff = self._backoff_range[0]
        self._oldest_ms = None
