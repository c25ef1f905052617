"""read_committed over the embedded broker's stored log (embedded/tansu_log.py), against a real broker."""

import pytest

from embedded.kafka import create_topics, read_topic
from embedded.s3 import S3Server
from embedded.services import LocalStack
from embedded.tansu_log import read_topic_from_s3

pytestmark = pytest.mark.integration


def test_stored_log_reader_drops_aborted_transactions_the_broker_still_serves(tmp_path):
    from confluent_kafka import Producer

    s3 = S3Server(tmp_path / "s3")
    storage, env = s3.start()
    try:
        with LocalStack(tmp_path / "stack", broker_storage=storage, broker_env=env) as stack:
            create_topics(stack.bootstrap, ["t"], partitions=2)
            p = Producer({"bootstrap.servers": stack.bootstrap, "transactional.id": "test-tx"})
            p.init_transactions()
            for value, commit in ((b"one", True), (b"aborted", False), (b"two", True)):
                p.begin_transaction()
                p.produce("t", value, key=b"k", headers=[("h", b"v")])
                p.flush()
                p.commit_transaction() if commit else p.abort_transaction()
            p.begin_transaction()
            p.produce("t", b"still-open", key=b"k")
            p.flush()
            plain = Producer({"bootstrap.servers": stack.bootstrap})
            plain.produce("t", b"plain", key=b"other")
            plain.flush()

            records, aborted = read_topic_from_s3(env["AWS_ENDPOINT"], "tansu", "t")
            served = read_topic(stack.bootstrap, "t", lambda v: len(v) >= 4, 20)
            p.abort_transaction()
    finally:
        s3.stop()
    assert sorted(r.value or b"" for r in records) == [b"one", b"plain", b"two"] and aborted == 1
    assert next(r for r in records if r.value == b"one").headers == (("h", b"v"),)
    # the gap this reader exists for: Tansu 0.6.0 hands aborted records to read_committed consumers
    assert b"aborted" in served
