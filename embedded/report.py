"""Match alerts to labelled incidents: precision, recall, delays, recall per incident type."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from typing import Any

from generator.simulate import Incident


def score_alerts(
    incidents: Sequence[Incident],
    alerts: Sequence[dict[str, Any]],
    events: int,
    entities: int,
    grace_s: float = 30.0,
) -> dict[str, Any]:
    """An incident is detected if an alert for its entity has an event time inside it (or within
    ``grace_s`` after it); precision = matched alerts / all alerts. Delay = detected_at (wall clock,
    if present, else event time) minus the incident's start."""
    grace = int(grace_s * 1000)
    matched_alerts = 0
    detected: dict[int, float] = {}
    for a in alerts:
        t = int(a["event_time_ms"])
        hit = False
        for i, inc in enumerate(incidents):
            if inc.key == a["key"] and inc.start_ms <= t <= inc.end_ms + grace:
                hit = True
                seen_ms = int(a.get("detected_at_ms", t))
                delay = (seen_ms - inc.start_ms) / 1000.0
                detected[i] = min(detected.get(i, delay), delay)
        matched_alerts += hit
    by_type: dict[str, list[int]] = {}
    for i, inc in enumerate(incidents):
        by_type.setdefault(inc.kind, []).append(int(i in detected))
    n_alerts = len(alerts)
    return {
        "events": events,
        "entities": entities,
        "injected_incidents": len(incidents),
        "detected_incidents": len(detected),
        "alerts": n_alerts,
        "false_alerts": n_alerts - matched_alerts,
        "precision": round(matched_alerts / n_alerts, 4) if n_alerts else 0.0,
        "recall": round(len(detected) / len(incidents), 4) if incidents else 0.0,
        "median_detection_delay_s": round(statistics.median(detected.values()), 2) if detected else None,
        "recall_by_type": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_type.items())},
    }


def rows_scored(score_values: Sequence[bytes]) -> int:
    """Distinct (entity, event time) rows among score records: an at-least-once topic repeats the
    rows a restarted job scores again, so its record count can reach the input's early."""
    return len({(r["key"], r["event_time_ms"]) for r in map(json.loads, score_values)})
