"""A fleet of hosts emitting correlated metrics with a periodic rhythm, plus labelled incidents.

Pure and deterministic for a seed: the same call gives the same events, so training, tests and the
demo agree on what "normal" is. Metrics are driven by one load signal per host, so they are
correlated the way real services are (traffic drives CPU, network, disk and latency).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

INCIDENT_TYPES = ("cpu_spike", "memory_leak", "slow_responses", "disk_saturation", "multi_metric")
SERVICES = ("checkout", "search", "payments", "catalog", "auth")
METRICS = ("cpu_usage", "memory_usage", "response_time_ms", "disk_io_mb", "network_io_mb")


@dataclass(frozen=True)
class Incident:
    """A labelled incident on one entity, in event time [start_ms, end_ms)."""

    key: str
    kind: str
    start_ms: int
    end_ms: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FleetSpec:
    hosts: int = 50
    """Number of hosts (entities)."""
    interval_s: float = 1.0
    """Event-time step between two observations of a host."""
    period_s: float = 300.0
    """Period of the load rhythm (a compressed "day")."""
    seed: int = 7
    incident_mix: tuple[str, ...] = INCIDENT_TYPES
    """Incident types, cycled in this order."""
    incident_duration_steps: int = 30
    metrics: tuple[str, ...] = METRICS


@dataclass
class _Host:
    key: str
    host: str
    service: str
    load_base: float
    phase: float
    mem_base: float
    rng: np.random.Generator = field(repr=False)


class Fleet:
    """Deterministic simulator; ``observe(step)`` gives every host's values at one step."""

    def __init__(self, spec: FleetSpec):
        self.spec = spec
        root = np.random.default_rng(spec.seed)
        self.hosts = []
        for i in range(spec.hosts):
            svc = SERVICES[i % len(SERVICES)]
            name = f"host-{i:04d}"
            self.hosts.append(
                _Host(
                    key=f"{name}/{svc}",
                    host=name,
                    service=svc,
                    load_base=float(root.uniform(0.8, 1.2)),
                    phase=float(root.uniform(0, 2 * math.pi)),
                    mem_base=float(root.uniform(35, 60)),
                    rng=np.random.default_rng([spec.seed, i]),
                )
            )
        self.incidents: list[Incident] = []

    def schedule_incidents(self, first_step: int, last_step: int, count: int, t0_ms: int) -> list[Incident]:
        """Place ``count`` incidents on distinct hosts, spread evenly over [first_step, last_step)."""
        d = self.spec.incident_duration_steps
        rng = np.random.default_rng(self.spec.seed + 1)
        hosts = rng.permutation(len(self.hosts))[:count]
        span = max(last_step - d - first_step, 1)
        step_ms = int(self.spec.interval_s * 1000)
        for j, h in enumerate(hosts):
            start = first_step + (span * j) // max(count, 1)
            kind = self.spec.incident_mix[j % len(self.spec.incident_mix)]
            self.incidents.append(
                Incident(self.hosts[h].key, kind, t0_ms + start * step_ms, t0_ms + (start + d) * step_ms)
            )
        return self.incidents

    def values(self, host: _Host, t_ms: int) -> dict[str, float]:
        """One host's metrics at event time ``t_ms`` (incidents applied)."""
        t = t_ms / 1000.0
        rng = host.rng
        load = host.load_base * (1.0 + 0.3 * math.sin(2 * math.pi * t / self.spec.period_s + host.phase))
        load += float(rng.normal(0, 0.03))
        v = {
            "cpu_usage": 15.0 + 30.0 * load + float(rng.normal(0, 1.5)),
            "memory_usage": host.mem_base
            + 1.5 * math.sin(2 * math.pi * t / self.spec.period_s)
            + float(rng.normal(0, 0.4)),
            "response_time_ms": 80.0 + 50.0 * load * load + float(rng.normal(0, 4.0)),
            "disk_io_mb": 30.0 + 20.0 * load + float(rng.normal(0, 2.5)),
            "network_io_mb": 70.0 * load + float(rng.normal(0, 2.5)),
        }
        for inc in self.incidents:
            if inc.key == host.key and inc.start_ms <= t_ms < inc.end_ms:
                _apply_incident(v, inc, t_ms)
        return {m: round(max(v[m], 0.0), 3) for m in self.spec.metrics}

    def events(self, start_ms: int, steps: int) -> Iterator[dict]:
        """Wide JSON-ready events for ``steps`` steps from ``start_ms``, step-major."""
        step_ms = int(self.spec.interval_s * 1000)
        for s in range(steps):
            t = start_ms + s * step_ms
            yield from self.events_at(t)

    def events_at(self, t_ms: int) -> Iterator[dict]:
        """One wide event per host at event time ``t_ms``."""
        for h in self.hosts:
            yield {"timestamp": t_ms, "host": h.host, "service": h.service, **self.values(h, t_ms)}


def _apply_incident(v: dict[str, float], inc: Incident, t_ms: int) -> None:
    frac = (t_ms - inc.start_ms) / max(inc.end_ms - inc.start_ms, 1)  # 0 -> 1 through the incident
    if inc.kind == "cpu_spike":
        v["cpu_usage"] += 40.0
    elif inc.kind == "memory_leak":
        v["memory_usage"] += 4.0 + 30.0 * frac
    elif inc.kind == "slow_responses":
        v["response_time_ms"] *= 2.5
    elif inc.kind == "disk_saturation":
        v["disk_io_mb"] += 60.0 + 40.0 * frac
    elif inc.kind == "multi_metric":
        # CPU climbs while traffic falls, each within its normal range: only the broken
        # correlation between them gives it away (a static threshold cannot see it).
        v["cpu_usage"] += 9.0
        v["network_io_mb"] -= 16.0
        v["disk_io_mb"] -= 4.0
    else:
        raise ValueError(f"unknown incident type {inc.kind!r}")
