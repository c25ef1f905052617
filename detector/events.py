"""Parsing of metric events (wide and narrow JSON shapes) into one normalised form.

Any input either parses to a :class:`MetricEvent` or raises :class:`MalformedEvent` with a short,
stable ``reason`` code (counted per reason and written to the dead-letter topic).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

# Events outside these bounds are rejected: they are typos or unit mistakes, not metrics.
MIN_TS_MS = 946_684_800_000  # 2000-01-01
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
MAX_ABS_VALUE = 1e12
MAX_PAYLOAD_BYTES = 64 * 1024


class MalformedEvent(ValueError):
    """Input that cannot be an event; ``reason`` is a stable code, ``detail`` says more."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class MetricEvent:
    """One observation: some metrics of one entity at one event time."""

    key: str
    timestamp_ms: int
    values: dict[str, float]


def _epoch_ms(number: int | float) -> int:
    """Epoch millis from a number of millis, or of seconds if it looks like seconds (< 1e11)."""
    if isinstance(number, float) and not math.isfinite(number):  # ints of any size are exact
        raise MalformedEvent("bad_timestamp", f"{number!r}")
    return int(number * 1000) if abs(number) < 1e11 else int(number)


def parse_timestamp(raw: object) -> int:
    """Epoch millis (int/float, or seconds if it looks like seconds; also as a numeric string) or
    ISO-8601 -> epoch millis."""
    if isinstance(raw, bool) or raw is None:
        raise MalformedEvent("bad_timestamp", f"{raw!r}")
    if isinstance(raw, int | float):
        ms = _epoch_ms(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        try:
            if text.replace(".", "", 1).isdigit():
                # the same rule as a number: "1700000000.5" keeps its half second
                ms = _epoch_ms(int(text) if text.isdigit() else float(text))
            else:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
                if dt.tzinfo is None:
                    raise MalformedEvent("bad_timestamp", f"{raw!r} has no time zone")
                ms = int(dt.timestamp() * 1000)
        except (ValueError, OverflowError):
            raise MalformedEvent("bad_timestamp", f"{raw!r}") from None
    else:
        raise MalformedEvent("bad_timestamp", f"{type(raw).__name__}")
    if not MIN_TS_MS <= ms <= MAX_TS_MS:
        raise MalformedEvent("timestamp_out_of_range", str(ms))
    return ms


def _value(name: str, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        if isinstance(raw, str):
            try:
                raw = float(raw)
            except ValueError:
                raise MalformedEvent("bad_value", f"{name}={raw!r}") from None
        else:
            raise MalformedEvent("bad_value", f"{name}={raw!r}")
    try:
        v = float(raw)
    except OverflowError:  # an integer literal beyond float range
        raise MalformedEvent("value_out_of_range", f"{name}={str(raw)[:40]}...") from None
    if not math.isfinite(v):
        raise MalformedEvent("non_finite_value", f"{name}={raw!r}")
    if abs(v) > MAX_ABS_VALUE:
        raise MalformedEvent("value_out_of_range", f"{name}={raw!r}")
    return v


def _entity_key(labels: dict, entity_labels: Sequence[str]) -> str:
    parts = []
    for label in entity_labels:
        v = labels.get(label)
        if v is None or isinstance(v, dict | list) or str(v).strip() == "":
            raise MalformedEvent("missing_label", label)
        s = str(v)
        if len(s) > 200 or "/" in s or "\t" in s:
            raise MalformedEvent("bad_label", f"{label}={s[:40]!r}")
        parts.append(s)
    return "/".join(parts)


def parse_event(payload: str | bytes, entity_labels: Sequence[str], metrics: Sequence[str]) -> MetricEvent:
    """Parse one JSON payload (wide or narrow shape) into a :class:`MetricEvent`.

    >>> parse_event('{"timestamp": 1700000000000, "host": "h", "cpu": 1.5}', ["host"], ["cpu"]).values
    {'cpu': 1.5}
    """
    if isinstance(payload, bytes):
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise MalformedEvent("too_large", f"{len(payload)} bytes")
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedEvent("not_utf8") from None
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MalformedEvent("too_large", f"{len(payload)} chars")
    if not payload.strip():
        raise MalformedEvent("empty")
    try:
        obj = json.loads(payload, parse_constant=_reject_constant)
    except MalformedEvent:
        raise
    except (ValueError, RecursionError) as e:
        raise MalformedEvent("invalid_json", str(e)[:80]) from None
    if not isinstance(obj, dict):
        raise MalformedEvent("not_an_object", type(obj).__name__)
    if "timestamp" not in obj:
        raise MalformedEvent("missing_timestamp")
    ts = parse_timestamp(obj["timestamp"])
    if "metric" in obj or "labels" in obj:  # narrow shape
        labels = obj.get("labels")
        if not isinstance(labels, dict):
            raise MalformedEvent("missing_labels")
        name = obj.get("metric")
        if not isinstance(name, str):
            raise MalformedEvent("missing_metric")
        if name not in metrics:
            raise MalformedEvent("unknown_metric", name[:60])
        if "value" not in obj:
            raise MalformedEvent("missing_value", name)
        return MetricEvent(_entity_key(labels, entity_labels), ts, {name: _value(name, obj["value"])})
    key = _entity_key(obj, entity_labels)
    values = {m: _value(m, obj[m]) for m in metrics if m in obj and obj[m] is not None}
    if not values:
        raise MalformedEvent("no_metrics")
    return MetricEvent(key, ts, values)


def _reject_constant(name: str) -> float:
    raise MalformedEvent("non_finite_value", name)
