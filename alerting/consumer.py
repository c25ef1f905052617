"""Read the anomalies topic, de-duplicate per entity, print readable alerts, post to a webhook."""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from alerting.dedupe import AlertDeduper, format_alert, slack_payload
from embedded.kafka import assign_from_start
from embedded.kafka import consumer as consumer_for

log = logging.getLogger(__name__)


def post_webhook(url: str, payload: dict[str, Any], timeout_s: float = 5.0, attempts: int = 1) -> bool:
    """POST JSON to a Slack-compatible webhook, up to ``attempts`` times (1 s, 2 s, ... apart); False
    (logged) if none succeeds, never raises."""
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    for attempt in range(attempts):
        if attempt:
            time.sleep(float(2 ** (attempt - 1)))
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                if 200 <= resp.status < 300:
                    return True
        except Exception as e:
            log.warning("webhook post failed: %s", type(e).__name__)
    return False


def parse_anomaly(value: bytes | None) -> dict[str, Any] | None:
    """An anomaly record, or None if it is not one: not a JSON object, or without the fields an alert is
    made of (entity key, event time, score, threshold, severity, model version, contributors)."""
    try:
        anomaly = json.loads(value or b"")
        if not isinstance(anomaly, dict) or not isinstance(anomaly.get("key"), str):
            return None
        anomaly["event_time_ms"] = int(anomaly["event_time_ms"])
        format_alert(anomaly)  # every field the alert text and the webhook payload read
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError):
        return None
    return anomaly


class AlertConsumer:
    """Poll :meth:`poll_once` in a loop; alerts go to ``on_alert`` (default: print)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        cooldown_s: float,
        webhook_url: str = "",
        on_alert: Callable[[dict[str, Any]], None] | None = None,
        group_id: str = "",
        client: dict[str, str] | None = None,
        consumer: Any = None,
    ):
        """``group_id``: read as that consumer group, from its committed offsets (the topic's start for a
        new group), committing each batch once handled; empty: every record from the start, nothing
        committed (the demo's fresh topics). ``client``: extra client settings (security);
        ``consumer``: an already built consumer (tests)."""
        self.commit = bool(group_id)
        if consumer is not None:
            self.consumer = consumer
        elif group_id:
            self.consumer = consumer_for(
                bootstrap, [topic], group_id, **{"isolation.level": "read_committed", **(client or {})}
            )
        else:
            self.consumer = assign_from_start(bootstrap, topic, **(client or {}))
        self.dedupe = AlertDeduper(cooldown_s)
        self.webhook_url = webhook_url
        self.on_alert = on_alert or (lambda a: print(format_alert(a), flush=True))
        self.alerts: list[dict[str, Any]] = []
        self.anomalies = 0
        self.bad_records = 0
        self.webhook_failures = 0

    def poll_once(self, timeout_s: float = 0.5) -> None:
        msgs = self.consumer.consume(500, timeout_s)
        handled = 0
        for msg in msgs:
            if msg.error():
                continue
            handled += 1
            anomaly = parse_anomaly(msg.value())
            if anomaly is None:  # counted and skipped: one bad record must not stop the alerts
                self.bad_records += 1
                continue
            anomaly["received_at_ms"] = int(time.time() * 1000)
            self.anomalies += 1
            alert = self.dedupe.offer(anomaly)
            if alert is None:
                continue
            self.alerts.append(alert)
            self.on_alert(alert)
            if self.webhook_url and not post_webhook(self.webhook_url, slack_payload(alert), attempts=3):
                self.webhook_failures += 1
                log.error("alert for %s not delivered to the webhook after 3 attempts", alert["key"])
        if self.commit and handled:
            try:
                self.consumer.commit(asynchronous=False)
            except Exception as e:  # e.g. dropped from the group: the next commit covers these records
                log.warning("offset commit failed (%s); the records may be handled again after a restart", e)

    def close(self) -> None:
        self.consumer.close()
