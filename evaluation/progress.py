"""A tiny progress bar on stderr (no dependency): ``for x in progress(items, "SMD"): ...``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import TypeVar

T = TypeVar("T")


def progress(
    items: Iterable[T],
    label: str,
    enabled: bool = True,
    total: int | None = None,
    describe: Callable[[T], str] | None = None,
    width: int = 28,
) -> Iterator[T]:
    """Yield ``items`` while drawing ``label [#####.....] i/n elapsed name`` on stderr (redrawn in
    place on a terminal; one line per item otherwise, so logs stay readable)."""
    if total is None:
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
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    draw(0)
    i = 0
    for i, item in enumerate(items, 1):
        yield item
        draw(i, describe(item) if describe else str(getattr(item, "name", "")))
    if enabled and tty:
        sys.stderr.write("\n")
