"""``sentinel-alerts``: print alerts from the anomalies topic and post them to a webhook."""

from __future__ import annotations

import argparse
import sys

from alerting.consumer import AlertConsumer
from detector.config import load_config
from embedded.kafka import client_security


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    args = p.parse_args(argv)
    cfg = load_config(args.config, args.set)
    c = AlertConsumer(
        cfg.kafka.bootstrap_servers,
        cfg.kafka.anomalies_topic,
        cfg.alert.cooldown_s,
        cfg.alert.webhook_url,
        group_id=cfg.alert.consumer_group,
        client=client_security(cfg),
    )
    try:
        while True:
            c.poll_once()
    except KeyboardInterrupt:
        pass
    finally:
        c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
