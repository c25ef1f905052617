"""The one owner of the Redis key format and value encoding of the feature store."""

from __future__ import annotations

import numpy as np

PREFIX = "sentinel:fs"
HISTORY_STREAM = f"{PREFIX}:history"
SCHEMA_KEY = f"{PREFIX}:schema"


def latest_key(entity: str) -> str:
    """Key of an entity's latest feature vector."""
    return f"{PREFIX}:latest:{entity}"


def encode_vector(vec: np.ndarray) -> bytes:
    """Feature vector -> little-endian float32 bytes."""
    return np.asarray(vec, dtype="<f4").tobytes()


def decode_vector(data: bytes) -> np.ndarray:
    """Inverse of :func:`encode_vector`."""
    return np.frombuffer(data, dtype="<f4").astype(np.float64)
