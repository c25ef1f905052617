"""Produce a simulated fleet into Kafka in real time (event time = wall time), with a short
back-filled history so entities warm up at once, and labelled incidents written to a JSON file.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from generator.simulate import Fleet, FleetSpec, Incident


@dataclass
class LiveRun:
    """Counters and labels of a live run (read by the demo's status line)."""

    incidents: list[Incident] = field(default_factory=list)
    produced: int = 0
    events: list[dict] = field(default_factory=list)
    start_ms: int = 0
    done: threading.Event = field(default_factory=threading.Event)


def run_live(
    send: Callable[[dict], None],
    spec: FleetSpec,
    duration_s: float,
    incidents: int,
    prefill_steps: int = 40,
    incident_window: tuple[float, float] = (10.0, 25.0),
    labels_path: Path | None = None,
    stop: threading.Event | None = None,
    run: LiveRun | None = None,
    keep_events: bool = False,
) -> LiveRun:
    """Back-fill ``prefill_steps`` of history, then emit one step per ``interval_s`` for ``duration_s``.

    Incidents start between ``incident_window[0]`` s after the live start and ``incident_window[1]``
    s before its end, so each has time to be seen.
    """
    run = run or LiveRun()
    stop = stop or threading.Event()
    fleet = Fleet(spec)
    step_ms = int(spec.interval_s * 1000)
    now_ms = int(time.time() * 1000) // step_ms * step_ms
    t0 = now_ms - prefill_steps * step_ms
    live_steps = int(duration_s / spec.interval_s)
    first = prefill_steps + int(incident_window[0] / spec.interval_s)
    last = prefill_steps + max(live_steps - int(incident_window[1] / spec.interval_s), 1)
    run.incidents = fleet.schedule_incidents(
        first, max(last, first + spec.incident_duration_steps + 1), incidents, t0
    )
    run.start_ms = now_ms
    if labels_path:
        labels_path.parent.mkdir(parents=True, exist_ok=True)
        labels_path.write_text(json.dumps([i.to_dict() for i in run.incidents], indent=1))

    def emit(t: int) -> None:
        for ev in fleet.events_at(t):
            send(ev)
            run.produced += 1
            if keep_events:
                run.events.append(ev)

    for s in range(prefill_steps):
        emit(t0 + s * step_ms)
    for s in range(live_steps):
        t = now_ms + s * step_ms
        while not stop.is_set() and time.time() * 1000 < t:
            time.sleep(min(0.05, max(0.0, (t - time.time() * 1000) / 1000)))
        if stop.is_set():
            break
        emit(t)
    run.done.set()
    return run
