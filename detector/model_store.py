"""Versioned model directories: ``<root>/<version>/{manifest.json, inference.npz, ...}``.

The manifest records the feature spec, threshold, library versions, a training-data summary and the
sha256 of every file. Nothing is loaded before every hash matches: joblib/Keras files are pickles
or code, and a tampered directory must be refused, not executed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from detector.features import feature_names
from detector.model import DetectionModel

MANIFEST = "manifest.json"
INFERENCE_FILE = "inference.npz"
MODEL_FORMAT = 4
"""What ``inference.npz`` holds, written to the manifest as ``format``: 1 one autoencoder -> Isolation
Forest pair, 2 with peers (pairs averaged), 3 with the training range (range breaks), 4 with a seasonal
stage (written only by a model that has one: the others stay format 3, which format-3 jobs still run).
This code reads every format up to its own and refuses newer ones, which it would score wrongly (e.g. a
format-1 reader scores a format-2 model with its first pair only). A manifest without the field is format
1 or 2: both load. Jobs built before this field existed do not check it; a format-2 job runs a format-3
model without range breaks."""


def model_format(has_seasonal_stage: bool) -> int:
    """The format a model's manifest declares: the oldest that holds everything the model has."""
    return MODEL_FORMAT if has_seasonal_stage else 3


class ModelIntegrityError(RuntimeError):
    """The model directory is missing, incomplete, or its files do not match the manifest."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_model_dir(path: str | Path) -> Path:
    """A directory with a manifest, or the newest version (by name) inside a parent directory."""
    p = Path(path)
    if (p / MANIFEST).is_file():
        return p
    if p.is_dir():
        versions = sorted(d for d in p.iterdir() if (d / MANIFEST).is_file())
        if versions:
            return versions[-1]
    raise ModelIntegrityError(f"no model at {p}: expected {p}/{MANIFEST} or version folders holding one")


def write_manifest(model_dir: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Hash every file in ``model_dir`` and write the manifest; returns it."""
    files = {
        f.name: sha256_file(f) for f in sorted(model_dir.iterdir()) if f.is_file() and f.name != MANIFEST
    }
    manifest = dict(info, files=files)
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def verify(model_dir: str | Path) -> dict[str, Any]:
    """Check every file against the manifest; return the manifest or raise ModelIntegrityError."""
    d = resolve_model_dir(model_dir)
    try:
        manifest = json.loads((d / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelIntegrityError(f"{d / MANIFEST}: unreadable manifest ({e})") from None
    fmt = manifest.get("format", 1)
    if type(fmt) is not int or not 1 <= fmt <= MODEL_FORMAT:
        raise ModelIntegrityError(
            f"model {d} has format {fmt!r}; this code reads formats 1 to {MODEL_FORMAT} (a newer one needs "
            "a newer job: upgrade the job before deploying this model)"
        )
    spec = manifest.get("feature_spec") or {}
    current = feature_names(list(spec.get("metrics", [])))
    if "feature_names" in spec and spec["feature_names"] != current:
        raise ModelIntegrityError(
            f"model {d} was trained on another feature definition than this code computes "
            f"({len(spec['feature_names'])} features, this code {len(current)}); retrain it"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or INFERENCE_FILE not in files:
        raise ModelIntegrityError(f"{d / MANIFEST}: no file hashes (or no {INFERENCE_FILE}) in the manifest")
    for name, expected in files.items():
        f = d / name
        if not f.is_file():
            raise ModelIntegrityError(f"model {d}: {name} is listed in the manifest but missing")
        actual = sha256_file(f)
        if actual != expected:
            raise ModelIntegrityError(
                f"model {d}: {name} does not match its manifest hash (expected {expected[:12]}..., "
                f"found {actual[:12]}...); refusing to load a modified model"
            )
    extra = {f.name for f in d.iterdir() if f.is_file()} - set(files) - {MANIFEST}
    if extra:
        raise ModelIntegrityError(f"model {d}: files not in the manifest: {sorted(extra)}")
    manifest["path"] = str(d)
    return manifest


def load_model(model_dir: str | Path) -> tuple[DetectionModel, dict[str, Any]]:
    """Verify, then load the serving model (numpy arrays only, no pickles)."""
    manifest = verify(model_dir)
    with np.load(Path(manifest["path"]) / INFERENCE_FILE, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return DetectionModel.from_arrays(arrays, version=manifest.get("version", "unknown")), manifest
