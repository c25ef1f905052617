import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from detector.model_store import ModelIntegrityError, load_model, resolve_model_dir, verify


def test_exported_model_loads_and_scores_like_the_fitted_one(model_dir, fitted):
    model, manifest = load_model(model_dir)
    assert manifest["version"] == model_dir.name == model.version
    assert set(manifest["files"]) == {"inference.npz", "autoencoder.keras", "iforest.joblib"}
    assert manifest["feature_spec"]["metrics"] == model.metrics
    assert "scikit-learn" in manifest["libraries"] and manifest["threshold"] == model.threshold
    x = (
        np.random.default_rng(0).normal(size=(4, len(model.feature_mean))) * model.feature_scale
        + model.feature_mean
    )
    np.testing.assert_allclose(model.score(x).score, fitted.model.score(x).score)


def test_parent_directory_resolves_to_newest_version(model_dir):
    assert resolve_model_dir(model_dir.parent) == model_dir


@pytest.fixture
def copy_of(model_dir, tmp_path):
    d = tmp_path / model_dir.name
    shutil.copytree(model_dir, d)
    return d


@pytest.mark.parametrize("victim", ["iforest.joblib", "inference.npz", "autoencoder.keras"])
def test_tampered_file_is_refused(copy_of, victim):
    with (copy_of / victim).open("r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(ModelIntegrityError, match=f"{victim} does not match its manifest hash"):
        load_model(copy_of)


def test_missing_extra_and_unhashed_files_are_refused(copy_of):
    (copy_of / "evil.joblib").write_bytes(b"x")
    with pytest.raises(ModelIntegrityError, match="not in the manifest"):
        verify(copy_of)
    (copy_of / "evil.joblib").unlink()
    (copy_of / "iforest.joblib").unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        verify(copy_of)
    m = json.loads((copy_of / "manifest.json").read_text())
    m.pop("files")
    (copy_of / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelIntegrityError, match="no file hashes"):
        verify(copy_of)


def test_job_refuses_a_tampered_model_with_a_clear_error(copy_of):
    (copy_of / "inference.npz").write_bytes(b"tampered")
    r = subprocess.run(
        [sys.executable, "-m", "jobs.detect", "--set", f"job.model_dir={copy_of}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode != 0
    assert "inference.npz does not match its manifest hash" in r.stderr
    assert "submitting" not in r.stdout
