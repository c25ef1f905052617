"""Per-entity rolling window state and its transition function.

``EntityState`` is a plain object serialised to compact bytes (a numpy ring buffer, not a pickled
list): Flink keeps it in keyed ValueState, training and evaluation keep it in a dict.
``observe(state, event)`` merges an event into the pending row and returns the completed rows.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from detector.events import MetricEvent
from detector.stuck import track

# n_metrics, length, last_ts, pending_ts, count, pos, flags, quiet, break_quiet, calm,
# season_length, season_pos, season_count, season_anchor_ms, frozen, drift_length, drift_model, drift_ms
# (S1-S3 end at quiet, S4 at break_quiet, S5 at calm, S6 at season_count, S7 at season_anchor_ms,
# S8 at frozen)
_HEADER = struct.Struct("<HHqqIIBBBBIIIqBIIq")
_HEADER_S8 = struct.Struct("<HHqqIIBBBBIIIqB")
_HEADER_S7 = struct.Struct("<HHqqIIBBBBIIIq")
_HEADER_S6 = struct.Struct("<HHqqIIBBBBIII")
_HEADER_S5 = struct.Struct("<HHqqIIBBBB")
_HEADER_S4 = struct.Struct("<HHqqIIBBB")
_HEADER_S1_TO_S3 = struct.Struct("<HHqqIIBB")
_VERSION_MAGIC = b"S9"
_FORMATS = {
    b"S1": (_HEADER_S1_TO_S3, 5),
    b"S2": (_HEADER_S1_TO_S3, 6),
    b"S3": (_HEADER_S1_TO_S3, 8),
    b"S4": (_HEADER_S4, 8),
    b"S5": (_HEADER_S5, 8),
    b"S6": (_HEADER_S6, 8),
    b"S7": (_HEADER_S7, 8),
    b"S8": (_HEADER_S8, 10),
    _VERSION_MAGIC: (_HEADER, 10),
}
"""Header and number of per-metric arrays after the ring, by format: S1 (before contributor smoothing),
S2 (before the streamed value range), S3 (before the range-break counter), S4 (before the calm-row
counter), S5 (before the seasonal history), S6 (before the seasonal grid's anchor), S7 (before the
runs of unchanged values) and S8 (before the drift offset) still load, so a job restored from an older
savepoint keeps its windows."""


@dataclass
class EntityState:
    """Rolling history of one entity. Arrays are float64 in memory, float32 on the wire (the drift offset
    float64)."""

    ring: np.ndarray  # (length, n_metrics), chronological order starting at ``pos``
    last: np.ndarray  # (n_metrics,) last known value per metric (NaN until seen)
    ewma: np.ndarray  # (n_metrics,)
    base_mean: np.ndarray  # (n_metrics,) slow EW baseline
    base_var: np.ndarray  # (n_metrics,)
    pending: np.ndarray  # (n_metrics,) row being assembled for ``pending_ts`` (NaN = not yet seen)
    contrib: np.ndarray  # (n_metrics,) EW mean of each metric's reconstruction error (contributors)
    seen_low: np.ndarray  # (n_metrics,) lowest value streamed so far (NaN until seen; range breaks)
    seen_high: np.ndarray  # (n_metrics,) highest value streamed so far
    run: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n_metrics,) rows the current value
    # has repeated (stuck detection, :mod:`detector.stuck`; 0 until seen)
    run_longest: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n_metrics,) longest finished run
    pos: int = 0  # next write index in ``ring``
    count: int = 0  # complete rows since every metric has been seen
    last_ts: int = -1  # event time of the newest completed row
    pending_ts: int = -1  # event time of the pending row, -1 when none
    alert_flags: int = 0  # bit i = the score i steps ago was above threshold
    quiet: int = 255  # scored rows since the last anomaly (saturates at 255; 255 = none yet)
    break_quiet: int = 255  # scored rows since the last range break or stuck entity (likewise)
    calm: int = 255  # calm rows (scoring at or below NORMAL_UPPER) since the last anomaly (likewise)
    frozen: int = 0  # 1: every varying metric was past its longest run at the last scored row (stuck)
    season: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (season_length, n_metrics) ring
    # of the newest complete rows for a model with a seasonal stage (its longest period and a window);
    # no rows for the others
    season_pos: int = 0  # next write index in ``season``
    season_count: int = 0  # valid rows in ``season`` (saturates at its length)
    season_anchor_ms: int = -1  # a time on this entity's own step grid (its first row's; -1: none yet)
    drift: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n_features,) EW mean of the model's
    # standardised reconstruction residual (:mod:`detector.drift`); empty when the model has none
    drift_model: int = 0  # fingerprint of the model ``drift`` was learned under (0: none)
    drift_ms: int = -1  # event time of the row ``drift`` last learned from (-1: none yet)

    @classmethod
    def new(cls, n_metrics: int, length: int, season_length: int = 0) -> EntityState:
        """An empty state for ``n_metrics`` metrics, a ring of ``length`` rows and a seasonal history of
        ``season_length`` rows (0: none)."""
        nan = np.full(n_metrics, np.nan)
        return cls(
            season=np.zeros((season_length, n_metrics)),
            ring=np.zeros((length, n_metrics)),
            last=nan.copy(),
            ewma=np.zeros(n_metrics),
            base_mean=np.zeros(n_metrics),
            base_var=np.zeros(n_metrics),
            pending=nan.copy(),
            contrib=np.zeros(n_metrics),
            seen_low=nan.copy(),
            seen_high=nan.copy(),
            run=np.zeros(n_metrics),
            run_longest=np.zeros(n_metrics),
        )

    @property
    def season_length(self) -> int:
        """Rows the seasonal history holds (0: none)."""
        return int(self.season.shape[0])

    def resize_season(self, length: int) -> None:
        """Keep a seasonal history of ``length`` rows (a reloaded model may need another period): the
        newest rows that fit are kept, in order."""
        if length == self.season_length:
            return
        m = self.ring.shape[1]
        kept = min(self.season_count, length)
        new = np.zeros((length, m))
        if kept:
            idx = (self.season_pos - kept + np.arange(kept)) % self.season_length
            new[:kept] = self.season[idx]
        self.season = new
        self.season_pos = kept % length if length else 0
        self.season_count = kept

    def window(self) -> np.ndarray:
        """The ring in chronological order (oldest first), shape (length, n_metrics)."""
        return np.roll(self.ring, -self.pos, axis=0)

    def to_bytes(self) -> bytes:
        """Compact serialisation: header + float32 arrays."""
        length, m = self.ring.shape
        fields = (
            m,
            length,
            self.last_ts,
            self.pending_ts,
            self.count,
            self.pos,
            self.alert_flags & 0xFF,
            min(self.quiet, 255),
            min(self.break_quiet, 255),
            min(self.calm, 255),
        )
        header = _HEADER.pack(
            *fields,
            self.season_length,
            self.season_pos,
            self.season_count,
            self.season_anchor_ms,
            1 if self.frozen else 0,
            len(self.drift),
            self.drift_model & 0xFFFFFFFF,
            self.drift_ms,
        )
        arrays = np.concatenate(
            [
                self.ring.ravel(),
                self.last,
                self.ewma,
                self.base_mean,
                self.base_var,
                self.pending,
                self.contrib,
                self.seen_low,
                self.seen_high,
                self.run,
                self.run_longest,
                self.season.ravel(),
            ]
        ).astype(np.float32)
        # the drift offset moves by ~1e-6 of itself per row at second-scale rows: float32 would stall it
        return _VERSION_MAGIC + header + arrays.tobytes() + self.drift.astype(np.float64).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> EntityState:
        """Inverse of :meth:`to_bytes`."""
        magic = bytes(data[:2])
        if magic not in _FORMATS:
            raise ValueError("unknown entity state format")
        header, n_arrays = _FORMATS[magic]
        fields = header.unpack_from(data, 2)
        m, length, last_ts, pending_ts, count, pos, flags, quiet = fields[:8]
        break_quiet = fields[8] if len(fields) > 8 else 255  # S1-S3 kept no range-break counter
        calm = fields[9] if len(fields) > 9 else quiet  # before S5: every quiet row counted as calm
        season_length, season_pos, season_count = fields[10:13] if len(fields) > 10 else (0, 0, 0)
        season_anchor_ms = fields[13] if len(fields) > 13 else -1  # S6: anchored again at the next row
        frozen = fields[14] if len(fields) > 14 else 0  # before S8: the runs start again, not frozen
        drift_length, drift_model, drift_ms = fields[15:18] if len(fields) > 15 else (0, 0, -1)  # S8: none
        n = length * m
        floats32 = n + n_arrays * m + season_length * m
        expected = 2 + header.size + 4 * floats32 + 8 * drift_length  # the drift offset is float64
        if season_pos >= max(season_length, 1) or season_count > season_length:
            raise ValueError(
                f"entity state with seasonal position {season_pos} and count {season_count} in a history of "
                f"{season_length} rows"
            )
        if len(data) != expected:
            raise ValueError(
                f"entity state of {len(data)} bytes; format {magic.decode()} with {m} metrics, {length} "
                f"rows, {season_length} seasonal rows and {drift_length} drift offsets takes {expected}"
            )
        arr = np.frombuffer(data, dtype=np.float32, offset=2 + header.size, count=floats32).astype(np.float64)
        drift = np.frombuffer(data, dtype=np.float64, offset=2 + header.size + 4 * floats32).copy()
        parts = [arr[n + i * m : n + (i + 1) * m].copy() for i in range(n_arrays)]
        if n_arrays < 6:
            parts.append(np.zeros(m))
        if n_arrays < 8:  # the range streamed before S3 is unknown; the ring's rows are a lower bound
            ring = arr[:n].reshape(length, m)
            seen = count > 0
            parts.append(ring.min(axis=0) if seen else np.full(m, np.nan))
            parts.append(ring.max(axis=0) if seen else np.full(m, np.nan))
        if n_arrays < 10:  # runs unknown before S8: the current one counts from here, none finished yet
            parts.append(np.where(np.isnan(parts[0]), 0.0, 1.0))
            parts.append(np.zeros(m))
        end = n + n_arrays * m
        return cls(
            season=arr[end : end + season_length * m].reshape(season_length, m).copy(),
            drift=drift,
            drift_model=drift_model,
            drift_ms=drift_ms,
            season_pos=season_pos,
            season_count=season_count,
            season_anchor_ms=season_anchor_ms,
            ring=arr[:n].reshape(length, m).copy(),
            last=parts[0],
            ewma=parts[1],
            base_mean=parts[2],
            base_var=parts[3],
            pending=parts[4],
            contrib=parts[5],
            seen_low=parts[6],
            seen_high=parts[7],
            run=parts[8],
            run_longest=parts[9],
            pos=pos,
            count=count,
            last_ts=last_ts,
            pending_ts=pending_ts,
            alert_flags=flags,
            quiet=quiet,
            break_quiet=break_quiet,
            calm=calm,
            frozen=frozen,
        )


@dataclass(frozen=True)
class Row:
    """A completed observation: every metric's value at ``timestamp_ms`` (forward-filled)."""

    timestamp_ms: int
    values: np.ndarray
    observed: np.ndarray  # bool mask: which metrics were really observed (not forward-filled)


class LateEvent(Exception):
    """The event is older than the entity's newest row: it cannot enter the window in order."""


def observe(
    state: EntityState,
    event: MetricEvent,
    metrics: list[str],
    ewma_alpha: float,
    baseline_alpha: float,
    season_step_ms: int = 0,
) -> list[Row]:
    """Merge ``event`` into ``state``; return the rows it completed (0, 1 or 2), already pushed.

    A row completes when it has every metric, or when an event with a later timestamp arrives.
    Raises :class:`LateEvent` for an event older than the pending row (the state is unchanged).
    ``season_step_ms``: the model's row step; the seasonal history then follows the step grid (a row
    after skipped steps first pushes one missing (NaN) row per step, a row in the same step as the
    previous one replaces it; 0: rows are kept as they come).
    """
    ts = event.timestamp_ms
    if ts <= state.last_ts or (state.pending_ts >= 0 and ts < state.pending_ts):
        raise LateEvent(
            f"event time {ts} is older than the entity's clock {max(state.last_ts, state.pending_ts)}"
        )
    done: list[Row] = []
    if state.pending_ts >= 0 and ts > state.pending_ts:
        done.append(_complete(state, ewma_alpha, baseline_alpha, season_step_ms))
    state.pending_ts = ts
    for name, v in event.values.items():
        try:
            state.pending[metrics.index(name)] = v
        except ValueError:
            continue  # a metric not in the configured list: ignored
    if not np.isnan(state.pending).any():
        done.append(_complete(state, ewma_alpha, baseline_alpha, season_step_ms))
    return done


def flush_pending(
    state: EntityState, ewma_alpha: float, baseline_alpha: float, season_step_ms: int = 0
) -> Row | None:
    """Complete the pending row now (e.g. on a timer), if there is one."""
    if state.pending_ts < 0:
        return None
    return _complete(state, ewma_alpha, baseline_alpha, season_step_ms)


def _complete(state: EntityState, ewma_alpha: float, baseline_alpha: float, season_step_ms: int = 0) -> Row:
    previous_ts = state.last_ts
    observed = ~np.isnan(state.pending)
    previous = state.last
    state.last = np.where(observed, state.pending, state.last)
    values = state.last.copy()
    track(state.run, state.run_longest, previous, values)  # a metric not observed repeats its last value
    row = Row(state.pending_ts, values, observed)
    state.last_ts = state.pending_ts
    state.pending_ts = -1
    state.pending[:] = np.nan
    if np.isnan(values).any():  # some metric never seen yet: keep warming up
        state.count = 0
        return row
    if state.count == 0:
        state.ewma[:] = values
        state.base_mean[:] = values
        state.base_var[:] = 0.0
        state.ring[:] = values  # fill so the first windows are flat, never NaN
    else:
        state.ewma += ewma_alpha * (values - state.ewma)
        delta = values - state.base_mean
        state.base_mean += baseline_alpha * delta
        state.base_var = (1 - baseline_alpha) * (state.base_var + baseline_alpha * delta * delta)
    state.ring[state.pos] = values
    state.pos = (state.pos + 1) % state.ring.shape[0]
    if state.season_length:
        if season_step_ms > 0 and previous_ts >= 0 and state.count > 0:
            if state.season_anchor_ms < 0:
                state.season_anchor_ms = previous_ts
            anchor = state.season_anchor_ms
            _mark_gap(
                state,
                _slot(row.timestamp_ms, anchor, season_step_ms)
                - _slot(previous_ts, anchor, season_step_ms)
                - 1,
            )
        state.season[state.season_pos] = values
        state.season_pos = (state.season_pos + 1) % state.season_length
        state.season_count = min(state.season_count + 1, state.season_length)
    state.count = min(state.count + 1, 2**31 - 1)
    return row


def _slot(ts_ms: int, anchor_ms: int, step_ms: int) -> int:
    """The step a timestamp falls in on the entity's own grid (the nearest one counted from ``anchor_ms``),
    so that jitter does not add up whatever the entity's phase against the clock."""
    return (ts_ms - anchor_ms + step_ms // 2) // step_ms


def _mark_gap(state: EntityState, skipped: int) -> None:
    """Keep the seasonal history on the step grid before the next row is pushed: one NaN row per skipped
    step (at most the history's length), so the rows after a gap are compared with the same time of day
    (or week), not with rows shifted by the gap; a row in the same step as the previous one takes its
    place instead of a new one. NaN rows are left out of the residuals."""
    length = state.season_length
    if skipped < 0:
        if state.season_count == 0:  # the previous row was never stored (a history created since)
            return
        state.season_pos = (state.season_pos - 1) % length
        state.season_count -= 1  # counted again when the row is pushed
        return
    for _ in range(min(skipped, length)):
        state.season[state.season_pos] = np.nan
        state.season_pos = (state.season_pos + 1) % length
        state.season_count = min(state.season_count + 1, length)
