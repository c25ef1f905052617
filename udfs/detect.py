"""KeyedProcessFunction: per-entity window state -> features -> model score -> anomalies.

Outputs are ``key\tjson`` strings: the Kafka sinks write the entity as the record key.

Keyed by entity bucket; each entity's state is one MapState entry of compact bytes (see
detector.windows and job.state_buckets). Feature-store writes are buffered
and flushed by size or by a processing-time timer; a Redis failure only degrades the store.
"""

from __future__ import annotations

import json
import logging
import time
from functools import partial

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction, OutputTag
from pyflink.datastream.state import MapStateDescriptor

from detector.config import config_from_json
from detector.engine import EntityDetector, check_fits
from detector.model_reload import ModelWatcher
from detector.windows import LateEvent
from udfs.progress import PROGRESS_TAG, ProgressCounter

SCORES_TAG = OutputTag("scores", Types.STRING())
LATE_TAG = OutputTag("late", Types.STRING())

log = logging.getLogger(__name__)


def late_record(event, reason: str, watermark: int) -> str:
    """``key\tjson`` record for the late-events topic."""
    return (
        event.key
        + "\t"
        + json.dumps(
            {
                "reason": reason,
                "key": event.key,
                "event_time_ms": event.timestamp_ms,
                "watermark_ms": watermark,
                "values": event.values,
            }
        )
    )


class DetectAnomalies(KeyedProcessFunction):
    def __init__(self, config_json: str):
        self.config_json = config_json  # plain string: pickled to the workers; heavy things in open()

    def open(self, runtime_context):
        cfg = config_from_json(self.config_json)
        self.cfg = cfg
        # newest version that verifies (a tampered one is refused and logged), then polled for newer
        self.models = ModelWatcher(
            cfg.job.model_dir, cfg.job.model_reload_interval_ms, partial(check_fits, cfg)
        )
        model, manifest = self.models.initial()
        self.detector = EntityDetector(cfg, model)
        self.emit_scores = cfg.job.emit_scores
        self.state = runtime_context.get_map_state(
            MapStateDescriptor("entities", Types.STRING(), Types.PRIMITIVE_ARRAY(Types.BYTE()))
        )
        self.writer = None
        if cfg.redis.enabled:
            from feature_store.store import FeatureRow, RedisFeatureStore
            from feature_store.writer import BufferedFeatureWriter

            store = RedisFeatureStore(cfg.redis)
            try:
                from detector.features import feature_names

                store.set_schema(feature_names(list(cfg.stream.metrics)))
            except Exception as e:
                log.warning("feature store unavailable at start (%s); detection continues", type(e).__name__)
            self.writer = BufferedFeatureWriter(
                store, cfg.redis.batch_size, cfg.redis.flush_interval_ms, cfg.redis.max_buffer
            )
            self._row = FeatureRow
        group = runtime_context.get_metrics_group().add_group("sentinel")
        self.m_rows = group.counter("rows_scored")
        self.m_anomalies = group.counter("anomalies")
        self.m_range_breaks = group.counter("range_breaks")
        self.m_stuck = group.counter("stuck_entities")
        self.m_late = group.counter("events_late")
        self.m_state_resets = group.counter("entity_state_resets")
        self._reset_logged = False
        self.m_behind_wm = group.counter("events_behind_watermark")
        self.m_warming = group.counter("rows_warming_up")
        if self.writer is not None:
            w = self.writer
            group.gauge("feature_store_written", lambda: w.counters.written)
            group.gauge("feature_store_dropped", lambda: w.counters.dropped)
            group.gauge("feature_store_failures", lambda: w.counters.failures)
            group.gauge("feature_store_buffered", lambda: len(w.buffer))
        self.m_reloads = group.counter("model_reloads")
        self.m_reload_failures = group.counter("model_reload_failures")
        self._timer_at = 0
        self.progress = ProgressCounter(runtime_context.get_index_of_this_subtask(), cfg.job.progress_every)
        log.info("model %s loaded from %s", model.version, manifest["path"])

    def process_element(self, event, ctx):
        marker = self.progress.tick()
        if marker is not None:
            yield PROGRESS_TAG, marker
        # Lateness is judged per entity (its rows must stay in order); the global watermark can run
        # ahead of a slower partition, so an event behind it is counted but still scored.
        watermark = ctx.timer_service().current_watermark()
        if event.timestamp_ms < watermark:
            self.m_behind_wm.inc()
        now_ms = int(time.time() * 1000)
        self._maybe_reload(now_ms)
        raw = self.state.get(event.key)
        if raw is None:
            state = self.detector.new_state()
        else:
            state, reset = self.detector.restore_state(bytes(raw))
            if reset is not None:
                self.m_state_resets.inc()
                if not self._reset_logged:  # one line, not one per entity after a config change
                    self._reset_logged = True
                    log.warning("entity %s starts a new state (%s); others are counted", event.key, reset)
        try:
            out = self.detector.step(state, event, now_ms)
        except LateEvent:
            self.m_late.inc()
            yield LATE_TAG, late_record(event, "older_than_entity_clock", watermark)
            return
        self.state.put(event.key, state.to_bytes())
        for rec in out.anomalies:
            self.m_anomalies.inc()
            if "beyond_range" in rec:
                self.m_range_breaks.inc()
            if "stuck" in rec:
                self.m_stuck.inc()
            yield f"{event.key}\t{json.dumps(rec)}"
        for rec in out.scores:
            if rec["status"] == "warming_up":
                self.m_warming.inc()
            else:
                self.m_rows.inc()
            if self.emit_scores:
                yield SCORES_TAG, f"{event.key}\t{json.dumps(rec)}"
        if self.writer is not None:
            for ts, vec in out.features:
                self.writer.add(self._row(event.key, ts, vec), now_ms)
            self.writer.maybe_flush(now_ms)
            if self.writer.buffer and self._timer_at <= now_ms:
                self._timer_at = now_ms + self.cfg.redis.flush_interval_ms
                ctx.timer_service().register_processing_time_timer(self._timer_at)

    def _maybe_reload(self, now_ms: int) -> None:
        failures = self.models.failures
        loaded = self.models.poll(now_ms)
        if self.models.failures > failures:
            self.m_reload_failures.inc(self.models.failures - failures)
        if loaded is not None:
            model, manifest = loaded
            self.detector = EntityDetector(self.cfg, model)
            self.m_reloads.inc()
            log.info("model %s swapped in from %s", model.version, manifest["path"])

    def on_timer(self, timestamp, ctx):
        if self.writer is not None:
            now_ms = int(time.time() * 1000)
            self.writer.maybe_flush(now_ms, force=True)
            if self.writer.buffer:
                self._timer_at = now_ms + self.cfg.redis.flush_interval_ms
                ctx.timer_service().register_processing_time_timer(self._timer_at)
        return iter(())

    def close(self):
        if self.writer is not None:
            self.writer.maybe_flush(int(time.time() * 1000), force=True)
