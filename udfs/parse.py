"""ProcessFunction: JSON payload -> MetricEvent; malformed input -> dead-letter side output."""

from __future__ import annotations

import json
import time

from pyflink.common import Types
from pyflink.datastream import OutputTag, ProcessFunction

from detector.events import MalformedEvent, parse_event

DLQ_TAG = OutputTag("dlq", Types.STRING())


def dlq_record(payload: str, reason: str, detail: str) -> str:
    """Dead-letter record ``reason\tjson`` (Kafka key = reason): the payload, why it was rejected, when."""
    return (
        reason
        + "\t"
        + json.dumps(
            {
                "reason": reason,
                "detail": detail,
                "payload": payload,
                "rejected_at_ms": int(time.time() * 1000),
            }
        )
    )


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

    def process_element(self, value, ctx):
        try:
            event = parse_event(value, self.entity_labels, self.metrics)
        except MalformedEvent as e:
            self._bad.inc()
            counter = self._by_reason.get(e.reason)
            if counter is None:
                counter = self._by_reason[e.reason] = self._group.counter(f"malformed_{e.reason}")
            counter.inc()
            yield DLQ_TAG, dlq_record(value if isinstance(value, str) else repr(value), e.reason, e.detail)
            return
        except Exception as e:  # never let data kill the job
            self._bad.inc()
            yield DLQ_TAG, dlq_record(str(value)[:65536], "parser_error", f"{type(e).__name__}: {e}"[:200])
            return
        self._parsed.inc()
        yield event
