"""A tiny progress bar on stderr (no dependency): ``for x in progress(items, "SMD"): ...``."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sized
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], label: str, enabled: bool = True, width: int = 28) -> Iterator[T]:
    """Yield ``items`` while drawing ``label [#####.....] i/n elapsed`` on stderr (if it is a TTY-ish
    stream; one line per item otherwise, so logs stay readable)."""
    total = len(items) if isinstance(items, Sized) else 0
    t0 = time.monotonic()
    tty = sys.stderr.isatty()

    def draw(i: int, name: str = "") -> None:
        if not enabled:
            return
        frac = i / total if total else 0.0
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        line = f"{label} [{bar}] {i}/{total or '?'} {time.monotonic() - t0:5.0f}s {name}"[:150]
        if tty:
            sys.stderr.write("\r" + line.ljust(150))
        elif i == total or i == 0 or name:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    draw(0)
    i = 0
    for i, item in enumerate(items, 1):
        yield item
        draw(i, str(getattr(item, "name", "")))
    if enabled and tty:
        sys.stderr.write("\n")
