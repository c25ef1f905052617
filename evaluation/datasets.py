"""Loaders for the two data layouts the harness accepts (read in place, never copied).

- NAB layout: ``data/<group>/<name>.csv`` (``timestamp,value``), ``labels/combined_windows.json``
  (``{"group/name.csv": [[start, end], ...]}``), optionally ``labels/combined_labels.json``.
- Matrix layout: ``train/ test/ test_label/ <entity>.npy`` (``(T, n_metrics)``, ``(T,)``), optional
  ``interpretation_label/<entity>.txt`` with lines ``start-end:d1,d2,...`` (0-based start, exclusive
  end, 1-based metric indices), as in the OmniAnomaly SMD release. NaN or infinite entries are missing
  values (the job waits for a row's missing metrics). NAB rows whose timestamp repeats or goes back
  (NAB itself has a few) are kept: the detector drops them as the job drops late events.

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
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: unreadable ({e})") from None
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON ({e})") from None


def _read_label_file(path: Path, pairs: bool) -> dict[str, list[Any]]:
    """``{"group/file.csv": [...]}`` with, per file, ``[start, end]`` time pairs (``pairs``) or times."""
    data = _read_json(path)
    shape = '{"group/file.csv": [["start", "end"], ...]}' if pairs else '{"group/file.csv": ["time", ...]}'
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise DatasetError(f"{path}: expected {shape}")
    for name, items in data.items():
        for item in items:
            ok = isinstance(item, list) and len(item) == 2 and all(isinstance(t, str) for t in item)
            if not (ok if pairs else isinstance(item, str)):
                raise DatasetError(f"{path}: {name}: {item!r} is not {'[start, end]' if pairs else 'a time'}")
    return data


def _time_of(text: str, where: str) -> int:
    try:
        return parse_time(text)
    except ValueError:
        raise DatasetError(f"{where} {text!r} is not an ISO 8601 time (YYYY-MM-DD HH:MM:SS)") from None


def _read_nab_csv(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(timestamps as written, epoch millis, values) of one NAB data file; every bad row is named."""
    stamps, times, values = [], [], []
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = {"timestamp", "value"} - set(reader.fieldnames or [])
            if missing:
                raise DatasetError(
                    f"{path}: no {' or '.join(sorted(missing))} column (header {reader.fieldnames})"
                )
            for row in reader:
                where = f"{path}:{reader.line_num}"
                t = _time_of(row["timestamp"] or "", f"{where}: timestamp")
                try:
                    value = float(row["value"] or "nan")
                except ValueError:
                    value = float("nan")
                if not np.isfinite(value):
                    raise DatasetError(f"{where}: value {row['value']!r} is not a finite number")
                times.append(t)
                values.append(value)
                stamps.append(row["timestamp"])
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: unreadable ({e})") from None
    if not values:
        raise DatasetError(f"{path}: no data rows")
    return stamps, np.array(times, dtype=np.int64), np.array(values, dtype=np.float64)


def load_nab(root: str | Path) -> list[NabFile]:
    """Every labelled series of a NAB-layout directory, sorted by name."""
    root = Path(root)
    windows_path = root / "labels" / "combined_windows.json"
    windows = _read_label_file(windows_path, pairs=True)
    labels_path = root / "labels" / "combined_labels.json"
    labels = _read_label_file(labels_path, pairs=False) if labels_path.is_file() else {}
    files = []
    for name in sorted(windows):
        path = root / "data" / name
        if not path.is_file():
            raise DatasetError(f"{path}: listed in {windows_path.name} but missing")
        stamps, times, values = _read_nab_csv(path)
        where = f"{windows_path}: {name}:"
        win_ms = [(_time_of(a, where), _time_of(b, where)) for a, b in windows[name]]
        rows = windows_to_indices(times, win_ms)
        if len(rows) != len(win_ms):
            raise DatasetError(
                f"{windows_path}: {name}: a window holds no row of the file (start after end, or outside "
                f"{stamps[0]} .. {stamps[-1]}): {windows[name]}"
            )
        files.append(
            NabFile(
                name=name,
                timestamps=stamps,
                times_ms=times,
                values=values,
                windows=rows,
                anomalies_ms=[_time_of(t, f"{labels_path}: {name}:") for t in labels.get(name, [])],
            )
        )
    if not files:
        raise DatasetError(f"{root}: no series listed in {windows_path}")
    return files


@dataclass
class MatrixEntity:
    """One entity of a matrix-layout data set."""

    name: str
    train: np.ndarray  # (T_train, n_metrics) float64
    test: np.ndarray  # (T_test, n_metrics) float64
    label: np.ndarray  # (T_test,) int8, 1 = anomalous step
    interpretation: list[tuple[int, int, list[int]]] | None = None  # (start, end excl., 0-based metrics)


def parse_interpretation(text: str, where: str = "interpretation_label") -> list[tuple[int, int, list[int]]]:
    """``start-end:d1,d2`` lines -> (start, exclusive end, 0-based metric indices)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            span, dims = line.split(":", 1)
            a, b = span.split("-")
            out.append((int(a), int(b), [int(d) - 1 for d in dims.split(",") if d.strip()]))
        except ValueError:
            raise DatasetError(f"{where}:{n}: {line!r} is not start-end:d1,d2,...") from None
    return out


def _load_array(path: Path) -> np.ndarray:
    """A numeric .npy array as float64 (booleans allowed)."""
    if not path.is_file():
        raise DatasetError(f"{path}: missing")
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path}: not a readable .npy array ({e})") from None
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise DatasetError(f"{path}: dtype {a.dtype} is not numeric")
    return a.astype(np.float64)


def load_matrix(root: str | Path) -> list[MatrixEntity]:
    """Every entity of a matrix-layout directory (entities = ``test/*.npy``), sorted by name."""
    root = Path(root)
    names = sorted(p.stem for p in (root / "test").glob("*.npy"))
    if not names:
        raise DatasetError(f"{root}: no test/<entity>.npy files")
    out = []
    for name in names:
        paths = [root / sub / f"{name}.npy" for sub in ("train", "test", "test_label")]
        train, test, label = (_load_array(p) for p in paths)
        label = label.reshape(-1)
        if train.ndim == 1:
            train = train[:, None]
        if test.ndim == 1:
            test = test[:, None]
        if (
            train.ndim != 2
            or test.shape[1:] != train.shape[1:]
            or len(label) != len(test)
            or not len(test)
            or not train.shape[1]
        ):
            raise DatasetError(
                f"{paths[1]}: shapes disagree (train {train.shape}, test {test.shape}, label {label.shape}); "
                "expected (T_train, n_metrics), (T_test, n_metrics), (T_test,), none of them empty"
            )
        # the job refuses non-finite values and waits for the row's missing metrics: NaN is "missing"
        train[np.isinf(train)] = np.nan
        test[np.isinf(test)] = np.nan
        interp_path = root / "interpretation_label" / f"{name}.txt"
        interp = (
            parse_interpretation(interp_path.read_text(), str(interp_path)) if interp_path.is_file() else None
        )
        out.append(MatrixEntity(name, train, test, (label > 0.5).astype(np.int8), interp))
    return out


def segments(label: np.ndarray) -> list[tuple[int, int]]:
    """Runs of 1s in a 0/1 array as inclusive (first, last) indices."""
    d = np.diff(np.concatenate([[0], (np.asarray(label) > 0).astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))
