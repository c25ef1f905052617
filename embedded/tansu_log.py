"""Read a topic straight from the embedded broker's S3 storage, with Kafka's ``read_committed`` rules.

Tansu 0.6.0 keeps each produced batch as one S3 object (``.../partitions/NNNNNNNNNN/records/<base
offset>.batch``, Kafka RecordBatch v2 bytes) and commit/abort markers as control batches, but its fetch
path never reports aborted transactions, so a ``read_committed`` consumer also receives records of
aborted transactions. This reader applies the rule itself: a transactional record counts once a commit
marker of its producer follows it, never if an abort marker does, and not yet while its transaction is
open. The chaos run uses it to check the job's exactly-once output independently of that broker gap.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

CLUSTER = "tansu_cluster"
_BATCH_HEADER = struct.Struct(">qiiBIhiqqqhii")  # v2 header, 61 bytes
COMPRESSION_MASK, TRANSACTIONAL, CONTROL = 0x07, 0x10, 0x20


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Zig-zag varint at ``pos``; (value, next position)."""
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7


def _bytes(buf: bytes, pos: int) -> tuple[bytes | None, int]:
    n, pos = _varint(buf, pos)
    if n < 0:
        return None, pos
    return buf[pos : pos + n], pos + n


def parse_batch(
    data: bytes, base_offset: int
) -> tuple[dict[str, Any], list[tuple[int, bytes | None, bytes | None, tuple]]]:
    """One RecordBatch v2 -> (header fields, [(offset, key, value, headers)])."""
    (_, _, _, magic, _, attributes, _, _, _, producer_id, _, _, count) = _BATCH_HEADER.unpack_from(data, 0)
    if magic != 2:
        raise ValueError(f"record batch magic {magic}, expected 2")
    if attributes & COMPRESSION_MASK:
        raise ValueError("compressed record batches are not supported by this reader")
    pos = _BATCH_HEADER.size
    records = []
    for _ in range(count):
        length, pos = _varint(data, pos)
        end = pos + length
        pos += 1  # record attributes
        _, pos = _varint(data, pos)  # timestamp delta
        offset_delta, pos = _varint(data, pos)
        key, pos = _bytes(data, pos)
        value, pos = _bytes(data, pos)
        n_headers, pos = _varint(data, pos)
        headers = []
        for _ in range(n_headers):
            hk, pos = _bytes(data, pos)
            hv, pos = _bytes(data, pos)
            headers.append(((hk or b"").decode(), hv))
        records.append((base_offset + offset_delta, key, value, tuple(headers)))
        pos = end
    header = {
        "producer_id": producer_id,
        "transactional": bool(attributes & TRANSACTIONAL),
        "control": bool(attributes & CONTROL),
    }
    return header, records


def committed_records(batches: list[tuple[int, bytes]], partition: int = 0) -> tuple[list[Record], int]:
    """``read_committed`` over one partition's batches (base offset, bytes): (records, aborted count)."""
    out: list[Record] = []
    pending: dict[int, list[Record]] = {}
    aborted = 0
    for base, data in sorted(batches):
        header, records = parse_batch(data, base)
        pid = header["producer_id"]
        if header["control"]:
            # control record key: version int16, type int16 (0 = abort, 1 = commit)
            kind = struct.unpack(">hh", records[0][1] or b"\0\0\0\0")[1] if records else 0
            done = pending.pop(pid, [])
            if kind == 1:
                out.extend(done)
            else:
                aborted += len(done)
            continue
        recs = [Record(partition, o, k, v, h) for o, k, v, h in records]
        if header["transactional"]:
            pending.setdefault(pid, []).extend(recs)
        else:
            out.extend(recs)
    return sorted(out, key=lambda r: r.offset), aborted


def read_topic_from_s3(endpoint: str, bucket: str, topic: str) -> tuple[list[Record], int]:
    """All committed records of ``topic`` in Tansu's S3 storage: (records, aborted records skipped)."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    prefix = f"clusters/{CLUSTER}/topics/{topic}/partitions/"
    by_partition: dict[int, list[tuple[int, bytes]]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            parts = obj["Key"][len(prefix) :].split("/")
            if len(parts) != 3 or parts[1] != "records" or not parts[2].endswith(".batch"):
                continue
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            by_partition.setdefault(int(parts[0]), []).append((int(parts[2].split(".")[0]), body))
    records: list[Record] = []
    aborted = 0
    for partition, batches in sorted(by_partition.items()):
        recs, n = committed_records(batches, partition)
        records.extend(recs)
        aborted += n
    return records, aborted
