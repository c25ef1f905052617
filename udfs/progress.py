"""Progress markers: each subtask reports how many events it has handled, and when.

Throughput is measured between markers, so job start-up is not counted (used by ``make bench``).
"""

from __future__ import annotations

import json
import time

from pyflink.common import Types
from pyflink.datastream import OutputTag

PROGRESS_TAG = OutputTag("progress", Types.STRING())


class ProgressCounter:
    """Call :meth:`tick` per event; it returns a ``subtask\\tjson`` marker every ``every`` events."""

    def __init__(self, subtask: int, every: int):
        self.subtask = subtask
        self.every = every
        self.count = 0

    def tick(self) -> str | None:
        self.count += 1
        if self.every <= 0 or (self.count != 1 and self.count % self.every):
            return None
        marker = {"subtask": self.subtask, "count": self.count, "t_ms": time.time() * 1000}
        return f"{self.subtask}\t{json.dumps(marker)}"
