"""ProcessFunction: raw Kafka value bytes -> MetricEvent; malformed input -> dead-letter side output."""

from __future__ import annotations

from pyflink.common import Types
from pyflink.datastream import OutputTag, ProcessFunction

from detector.events import MalformedEvent, parse_event

DLQ_TAG = OutputTag("dlq", Types.PRIMITIVE_ARRAY(Types.BYTE()))


def dlq_record(payload: bytes, reason: str, detail: str) -> bytes:
    """Dead-letter element ``reason\\tdetail\\t<original bytes>``; the sink writes key = reason,
    value = the original bytes unchanged, headers reason and detail (java/.../DeadLetter.java)."""
    clean = detail.replace("\t", " ").replace("\n", " ")[:200]
    return f"{reason}\t{clean}\t".encode() + payload


class ParseEvents(ProcessFunction):
    def __init__(self, entity_labels: list[str], metrics: list[str]):
        self.entity_labels = list(entity_labels)
        self.metrics = list(metrics)

    def open(self, runtime_context):
        group = runtime_context.get_metrics_group().add_group("sentinel")
        self._parsed = group.counter("events_parsed")
        self._bad = group.counter("events_malformed")
        self._group = group
        self._by_reason: dict = {}  # reason -> Flink counter "malformed_<reason>", created on first use

    def _reject(self, payload: bytes, reason: str, detail: str) -> tuple:
        self._bad.inc()
        counter = self._by_reason.get(reason)
        if counter is None:
            counter = self._by_reason[reason] = self._group.counter(f"malformed_{reason}")
        counter.inc()
        return DLQ_TAG, dlq_record(payload, reason, detail)

    def process_element(self, value, ctx):
        payload = bytes(value) if not isinstance(value, str) else value.encode()
        try:
            event = parse_event(payload, self.entity_labels, self.metrics)
        except MalformedEvent as e:
            yield self._reject(payload, e.reason, e.detail)
            return
        except Exception as e:  # never let data kill the job
            yield self._reject(payload, "parser_error", f"{type(e).__name__}: {e}")
            return
        self._parsed.inc()
        yield event
