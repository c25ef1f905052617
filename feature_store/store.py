"""Feature-store backends: Redis (production) and an in-memory twin (unit tests).

Writes are batched (one pipelined round trip per batch); the history is a Redis Stream trimmed to an
approximate MAXLEN, which is what training reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from detector.config import RedisConfig
from feature_store.keys import HISTORY_STREAM, SCHEMA_KEY, decode_vector, encode_vector, latest_key


@dataclass(frozen=True)
class FeatureRow:
    entity: str
    timestamp_ms: int
    vector: np.ndarray


class FeatureStore(Protocol):
    def write_batch(self, rows: Sequence[FeatureRow]) -> None: ...
    def read_latest(self, entity: str) -> FeatureRow | None: ...
    def read_history(self, count: int | None = None) -> list[FeatureRow]: ...
    def set_schema(self, feature_names: list[str]) -> None: ...


class InMemoryFeatureStore:
    """Twin of :class:`RedisFeatureStore` for pure unit tests (no TTL)."""

    def __init__(self, history_maxlen: int = 100_000):
        self.latest: dict[str, FeatureRow] = {}
        self.history: list[FeatureRow] = []
        self.maxlen = history_maxlen
        self.schema: list[str] = []

    def write_batch(self, rows: Sequence[FeatureRow]) -> None:
        for r in rows:
            self.latest[r.entity] = r
        self.history.extend(rows)
        del self.history[: max(0, len(self.history) - self.maxlen)]

    def read_latest(self, entity: str) -> FeatureRow | None:
        return self.latest.get(entity)

    def read_history(self, count: int | None = None) -> list[FeatureRow]:
        return list(self.history if count is None else self.history[-count:])

    def set_schema(self, feature_names: list[str]) -> None:
        self.schema = list(feature_names)


def redis_client(cfg: RedisConfig):
    """A redis-py client from the config (password and TLS included)."""
    import redis

    return redis.Redis(
        host=cfg.host,
        port=cfg.port,
        db=cfg.db,
        username=cfg.username or None,
        password=cfg.password or None,
        ssl=cfg.tls,
        ssl_ca_certs=cfg.tls_ca_file or None,
        socket_timeout=cfg.socket_timeout_s,
        socket_connect_timeout=cfg.socket_timeout_s,
    )


class RedisFeatureStore:
    """Redis backend: ``SET latest EX ttl`` + ``XADD history MAXLEN ~``, pipelined per batch."""

    def __init__(self, cfg: RedisConfig, client=None):
        self.cfg = cfg
        self.client = client if client is not None else redis_client(cfg)

    def write_batch(self, rows: Sequence[FeatureRow]) -> None:
        if not rows:
            return
        pipe = self.client.pipeline(transaction=False)
        for r in rows:
            data = encode_vector(r.vector)
            ts = str(r.timestamp_ms).encode()
            pipe.set(latest_key(r.entity), ts + b"|" + data, ex=self.cfg.ttl_s)
            pipe.xadd(
                HISTORY_STREAM,
                {"entity": r.entity, "ts": ts, "f": data},
                maxlen=self.cfg.history_maxlen,
                approximate=True,
            )
        pipe.execute()

    def read_latest(self, entity: str) -> FeatureRow | None:
        raw = self.client.get(latest_key(entity))
        if raw is None:
            return None
        ts, _, data = raw.partition(b"|")
        return FeatureRow(entity, int(ts), decode_vector(data))

    def read_history(self, count: int | None = None) -> list[FeatureRow]:
        out: list[FeatureRow] = []
        last = "-"
        while count is None or len(out) < count:
            page = 10_000 if count is None else min(10_000, count - len(out))
            chunk = self.client.xrange(HISTORY_STREAM, min=last, max="+", count=page + (last != "-"))
            if last != "-":
                chunk = chunk[1:]
            if not chunk:
                break
            for _id, fields in chunk:
                out.append(
                    FeatureRow(fields[b"entity"].decode(), int(fields[b"ts"]), decode_vector(fields[b"f"]))
                )
            last = chunk[-1][0].decode()
        return out

    def set_schema(self, feature_names: list[str]) -> None:
        self.client.set(SCHEMA_KEY, json.dumps(feature_names))

    def read_schema(self) -> list[str] | None:
        """The feature names the job last wrote (None if no job wrote any)."""
        raw = self.client.get(SCHEMA_KEY)
        return None if raw is None else [str(n) for n in json.loads(raw)]
