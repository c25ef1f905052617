"""KeyedProcessFunction for the throughput ceiling: counts per key in keyed state, emits only progress."""

from __future__ import annotations

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction
from pyflink.datastream.state import MapStateDescriptor

from udfs.progress import PROGRESS_TAG, ProgressCounter


class CountOnly(KeyedProcessFunction):
    def __init__(self, progress_every: int):
        self.progress_every = progress_every

    def open(self, runtime_context):
        self.state = runtime_context.get_map_state(MapStateDescriptor("count", Types.STRING(), Types.LONG()))
        self.progress = ProgressCounter(runtime_context.get_index_of_this_subtask(), self.progress_every)

    def process_element(self, event, ctx):
        self.state.put(event.key, (self.state.get(event.key) or 0) + 1)
        marker = self.progress.tick()
        if marker is not None:
            yield PROGRESS_TAG, marker
