"""Swapping in a new model version without a restart.

The job is given a model root (``<root>/<version>/``); each detector polls it and swaps in a newer
version only after its manifest verifies and it fits the stream's metrics and features. A version
that fails is logged once, counted and skipped: the model in use stays.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.model import DetectionModel
from detector.model_store import MANIFEST, ModelIntegrityError, load_model

log = logging.getLogger(__name__)

Check = Callable[[DetectionModel], None]
"""Raises ValueError when a model does not fit the running stream (e.g. other metrics)."""


def versions(root: str | Path) -> list[Path]:
    """Version directories under ``root``, newest (by name) first; ``root`` itself if it is one."""
    p = Path(root)
    if (p / MANIFEST).is_file():
        return [p]
    if not p.is_dir():
        return []
    return sorted((d for d in p.iterdir() if (d / MANIFEST).is_file()), reverse=True)


@dataclass
class ModelWatcher:
    """Loads the newest good version at start, then polls for newer ones every ``interval_ms``."""

    root: str
    interval_ms: int
    check: Check = lambda model: None
    current: Path | None = None
    reloads: int = 0
    failures: int = 0
    rejected: dict[Path, str] = field(default_factory=dict)
    _next_ms: int = 0

    def _try(self, path: Path) -> tuple[DetectionModel, dict[str, Any]] | None:
        if path in self.rejected:
            return None
        try:
            model, manifest = load_model(path)
            self.check(model)
        except (ModelIntegrityError, ValueError, KeyError, OSError) as e:
            self.rejected[path] = str(e)
            self.failures += 1
            log.error("model %s rejected, keeping %s: %s", path, self.current, e)
            return None
        return model, manifest

    def initial(self) -> tuple[DetectionModel, dict[str, Any]]:
        """The newest version that verifies and fits; raises ModelIntegrityError if none does."""
        found = versions(self.root)
        for path in found:
            loaded = self._try(path)
            if loaded is not None:
                self.current = path
                return loaded
        why = "; ".join(f"{p.name}: {e}" for p, e in self.rejected.items()) or "no versions"
        raise ModelIntegrityError(f"no usable model under {self.root} ({why})")

    def poll(self, now_ms: int) -> tuple[DetectionModel, dict[str, Any]] | None:
        """A newer verified model to swap in, at most once per interval; else None."""
        if self.interval_ms <= 0 or now_ms < self._next_ms:
            return None
        self._next_ms = now_ms + self.interval_ms
        found = versions(self.root)
        if not found or found[0] == self.current:
            return None
        loaded = self._try(found[0])
        if loaded is None:
            return None
        self.current = found[0]
        self.reloads += 1
        log.info("model reloaded: %s", found[0])
        return loaded
