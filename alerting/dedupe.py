"""One incident, one alert: per-entity cooldown over event time."""

from __future__ import annotations

from typing import Any


class AlertDeduper:
    """``offer(anomaly)`` returns the anomaly if it opens a new alert, else None.

    An entity's alert stays open while its anomalies keep coming less than ``cooldown_s`` apart;
    the next anomaly after a quiet ``cooldown_s`` opens a new alert. A range break or stuck entity that
    opens an episode of its own (``episode_start`` with ``beyond_range`` or ``stuck``: a new extreme or
    metrics that stopped changing, during an ongoing incident) alerts inside the cooldown too.
    Duplicated records (same key and event time, e.g. redelivered) never alert twice.
    """

    def __init__(self, cooldown_s: float):
        self.cooldown_ms = int(cooldown_s * 1000)
        self.last_seen: dict[str, int] = {}
        self.suppressed = 0

    def offer(self, anomaly: dict[str, Any]) -> dict[str, Any] | None:
        key = anomaly["key"]
        t = int(anomaly["event_time_ms"])
        last = self.last_seen.get(key)
        news = bool(anomaly.get("episode_start")) and bool(
            anomaly.get("beyond_range") or anomaly.get("stuck")
        )
        if last is not None and (t <= last or (t - last < self.cooldown_ms and not news)):
            self.last_seen[key] = max(last, t)
            self.suppressed += 1
            return None
        self.last_seen[key] = t
        return anomaly


def format_alert(a: dict[str, Any]) -> str:
    """A one-line, human-readable alert."""
    drivers = ", ".join(
        f"{c['metric']}={c['value']:g} (expected ~{c['expected']:g})" for c in a.get("contributors", [])[:3]
    )
    if a.get("stuck"):  # the contributors rank reconstruction errors; what is wrong is the frozen values
        drivers = f"stuck for {a.get('stuck_rows', '?')} rows: {', '.join(a['stuck'])}; {drivers}"
    return (
        f"[{a['severity'].upper()}] {a['key']} anomalous at {a['event_time']} "
        f"(score {a['score']:.2f} > {a['threshold']:.2f}, model {a['model_version']}): {drivers}"
    )


def slack_payload(a: dict[str, Any]) -> dict[str, Any]:
    """Slack-compatible webhook JSON (``text`` plus a block with the details)."""
    return {
        "text": format_alert(a),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": format_alert(a)}}],
    }
