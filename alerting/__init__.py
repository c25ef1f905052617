"""Alerts from the anomalies topic: de-duplication, readable text, Slack-compatible webhooks."""
