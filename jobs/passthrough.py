"""The throughput ceiling for ``make bench``: the detection job's source, parser and keying, then a
KeyedProcessFunction that only counts (per entity, in the same bucketed MapState layout). No windows,
Redis or scoring.

    python -m jobs.passthrough --config bench.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyflink.common import Types

from detector.config import load_config
from jobs.detect import EntityBucket, create_environment, kafka_sink, kafka_source_stream
from udfs.count import CountOnly
from udfs.parse import ParseEvents
from udfs.progress import PROGRESS_TAG


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    args = p.parse_args(argv)
    cfg = load_config(args.config, args.set)
    env = create_environment(cfg)
    s = cfg.stream
    counted = (
        kafka_source_stream(env, cfg)
        .process(ParseEvents(s.entity_labels, s.metrics), output_type=Types.PICKLED_BYTE_ARRAY())
        .name("parse-events")
        .uid("parse-events")
        .key_by(EntityBucket(cfg.job.state_buckets), key_type=Types.INT())
        .process(CountOnly(max(cfg.job.progress_every, 1)), output_type=Types.STRING())
        .name("count-only")
        .uid("count-only")
    )
    sink = kafka_sink(cfg, cfg.kafka.progress_topic, cfg.kafka.scores_delivery_guarantee)
    counted.get_side_output(PROGRESS_TAG).sink_to(sink).name("sink-progress")
    env.execute("sentinel-passthrough")


if __name__ == "__main__":
    main()
