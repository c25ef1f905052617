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

log = logging.getLogger(__name__)


def post_webhook(url: str, payload: dict[str, Any], timeout_s: float = 5.0) -> bool:
    """POST JSON to a Slack-compatible webhook; False (logged) on failure, never raises."""
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return 200 <= resp.status < 300
    except Exception as e:
        log.warning("webhook post failed: %s", type(e).__name__)
        return False


class AlertConsumer:
    """Poll :meth:`poll_once` in a loop; alerts go to ``on_alert`` (default: print)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        cooldown_s: float,
        webhook_url: str = "",
        on_alert: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.consumer = assign_from_start(bootstrap, topic)
        self.dedupe = AlertDeduper(cooldown_s)
        self.webhook_url = webhook_url
        self.on_alert = on_alert or (lambda a: print(format_alert(a), flush=True))
        self.alerts: list[dict[str, Any]] = []
        self.anomalies = 0
        self.bad_records = 0

    def poll_once(self, timeout_s: float = 0.5) -> None:
        for msg in self.consumer.consume(500, timeout_s):
            if msg.error():
                continue
            try:
                anomaly = json.loads(msg.value())
                anomaly["received_at_ms"] = int(time.time() * 1000)
            except (ValueError, TypeError):
                self.bad_records += 1
                continue
            self.anomalies += 1
            alert = self.dedupe.offer(anomaly)
            if alert is None:
                continue
            self.alerts.append(alert)
            self.on_alert(alert)
            if self.webhook_url:
                post_webhook(self.webhook_url, slack_payload(alert))

    def close(self) -> None:
        self.consumer.close()
