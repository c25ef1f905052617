"""Loaders for the two data layouts the harness accepts (read in place, never copied).

- NAB layout: ``data/<group>/<name>.csv`` (``timestamp,value``), ``labels/combined_windows.json``
  (``{"group/name.csv": [[start, end], ...]}``), optionally ``labels/combined_labels.json``.
- Matrix layout: ``train/ test/ test_label/ <entity>.npy`` (``(T, n_metrics)``, ``(T,)``), optional
  ``interpretation_label/<entity>.txt`` with lines ``start-end:d1,d2,...`` (0-based start, exclusive
  end, 1-based metric indices), as in the OmniAnomaly SMD release. NaN or infinite entries are missing
  values (the job waits for a row's missing metrics).

Anything else raises :class:`DatasetError` naming the file (and line) at fault.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np


class DatasetError(ValueError):
    """A data set that cannot be evaluated as it is; the message names the file and what is wrong."""


PROBATION_FRACTION = 0.15
PROBATION_MAX = 750


def probation_length(n_rows: int) -> int:
    """NAB's probationary period: the first 15% of a file, at most 750 rows."""
    return min(int(np.floor(PROBATION_FRACTION * n_rows)), PROBATION_MAX)


def parse_time(text: str) -> int:
    """NAB timestamp (``2014-02-19 10:50:00[.000000]``, or any ISO 8601 form; naive = UTC) -> epoch millis."""
    t = datetime.fromisoformat(text.strip())
    return int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp() * 1000)


@dataclass
class NabFile:
    """One NAB series with its anomaly windows as inclusive row-index ranges."""

    name: str  # "group/file.csv", the key of the label files
    timestamps: list[str]
    times_ms: np.ndarray  # (T,) int64
    values: np.ndarray  # (T,) float64
    windows: list[tuple[int, int]]  # inclusive [first, last] row indices
    anomalies_ms: list[int] = field(default_factory=list)  # labelled anomaly times (window centres)

    @property
    def group(self) -> str:
        return self.name.split("/")[0]

    @property
    def stem(self) -> str:
        return self.name.split("/")[-1]

    @property
    def probation(self) -> int:
        return probation_length(len(self.values))

    def window_labels(self) -> np.ndarray:
        """(T,) 1 inside a window, 0 elsewhere (the ``label`` column of NAB's results files)."""
        out = np.zeros(len(self.values), dtype=np.int8)
        for s, e in self.windows:
            out[s : e + 1] = 1
        return out


def windows_to_indices(times_ms: np.ndarray, windows_ms: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Timestamp windows -> inclusive row-index ranges (rows whose time lies in the window)."""
    out = []
    for start, end in windows_ms:
        s = int(np.searchsorted(times_ms, start, side="left"))
        e = int(np.searchsorted(times_ms, end, side="right")) - 1
        if e >= s:
            out.append((s, e))
    return out


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DatasetError(f"{path}: missing")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON ({e})") from None


def _read_nab_csv(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(timestamps as written, epoch millis, values) of one NAB data file; every bad row is named."""
    stamps, times, values = [], [], []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {"timestamp", "value"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(
                f"{path}: no {' or '.join(sorted(missing))} column (header {reader.fieldnames})"
            )
        for row in reader:
            where = f"{path}:{reader.line_num}"
            try:
                times.append(parse_time(row["timestamp"]))
            except (TypeError, ValueError):
                raise DatasetError(
                    f"{where}: timestamp {row['timestamp']!r} is not an ISO 8601 time (YYYY-MM-DD HH:MM:SS)"
                ) from None
            try:
                value = float(row["value"])
            except (TypeError, ValueError):
                value = float("nan")
            if not np.isfinite(value):
                raise DatasetError(f"{where}: value {row['value']!r} is not a finite number")
            values.append(value)
            stamps.append(row["timestamp"])
    return stamps, np.array(times, dtype=np.int64), np.array(values, dtype=np.float64)


def load_nab(root: str | Path) -> list[NabFile]:
    """Every labelled series of a NAB-layout directory, sorted by name."""
    root = Path(root)
    windows = _read_json(root / "labels" / "combined_windows.json")
    labels_path = root / "labels" / "combined_labels.json"
    labels = _read_json(labels_path) if labels_path.is_file() else {}
    files = []
    for name in sorted(windows):
        path = root / "data" / name
        if not path.is_file():
            raise DatasetError(f"{path}: listed in combined_windows.json but missing")
        stamps, times, values = _read_nab_csv(path)
        try:
            win_ms = [(parse_time(a), parse_time(b)) for a, b in windows[name]]
        except (TypeError, ValueError):
            raise DatasetError(
                f"combined_windows.json: {name}: windows must be [[start, end], ...]"
            ) from None
        files.append(
            NabFile(
                name=name,
                timestamps=stamps,
                times_ms=times,
                values=values,
                windows=windows_to_indices(times, win_ms),
                anomalies_ms=[parse_time(t) for t in labels.get(name, [])],
            )
        )
    if not files:
        raise DatasetError(f"{root}: no series listed in labels/combined_windows.json")
    return files


@dataclass
class MatrixEntity:
    """One entity of a matrix-layout data set."""

    name: str
    train: np.ndarray  # (T_train, n_metrics) float64
    test: np.ndarray  # (T_test, n_metrics) float64
    label: np.ndarray  # (T_test,) int8, 1 = anomalous step
    interpretation: list[tuple[int, int, list[int]]] | None = None  # (start, end excl., 0-based metrics)


def parse_interpretation(text: str) -> list[tuple[int, int, list[int]]]:
    """``start-end:d1,d2`` lines -> (start, exclusive end, 0-based metric indices)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        span, dims = line.split(":", 1)
        a, b = span.split("-")
        out.append((int(a), int(b), [int(d) - 1 for d in dims.split(",") if d.strip()]))
    return out


def _load_array(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(f"{path}: missing")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path}: not a readable .npy array ({e})") from None


def load_matrix(root: str | Path) -> list[MatrixEntity]:
    """Every entity of a matrix-layout directory (entities = ``test/*.npy``), sorted by name."""
    root = Path(root)
    names = sorted(p.stem for p in (root / "test").glob("*.npy"))
    if not names:
        raise DatasetError(f"{root}: no test/<entity>.npy files")
    out = []
    for name in names:
        train = _load_array(root / "train" / f"{name}.npy").astype(np.float64)
        test = _load_array(root / "test" / f"{name}.npy").astype(np.float64)
        label = _load_array(root / "test_label" / f"{name}.npy").reshape(-1)
        if train.ndim == 1:
            train = train[:, None]
        if test.ndim == 1:
            test = test[:, None]
        if train.ndim != 2 or test.shape[1:] != train.shape[1:] or len(label) != len(test):
            raise DatasetError(
                f"{name}: shapes disagree (train {train.shape}, test {test.shape}, label {label.shape}); "
                "expected (T_train, n_metrics), (T_test, n_metrics), (T_test,)"
            )
        # the job refuses non-finite values and waits for the row's missing metrics: NaN is "missing"
        train[np.isinf(train)] = np.nan
        test[np.isinf(test)] = np.nan
        interp_path = root / "interpretation_label" / f"{name}.txt"
        interp = parse_interpretation(interp_path.read_text()) if interp_path.is_file() else None
        out.append(MatrixEntity(name, train, test, (label > 0.5).astype(np.int8), interp))
    return out


def segments(label: np.ndarray) -> list[tuple[int, int]]:
    """Runs of 1s in a 0/1 array as inclusive (first, last) indices."""
    d = np.diff(np.concatenate([[0], (np.asarray(label) > 0).astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))
