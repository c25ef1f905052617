import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from detector.model_reload import ModelWatcher
from detector.model_store import (
    MODEL_FORMAT,
    ModelIntegrityError,
    load_model,
    model_format,
    resolve_model_dir,
    verify,
)


def test_exported_model_loads_and_scores_like_the_fitted_one(model_dir, fitted):
    model, manifest = load_model(model_dir)
    assert manifest["version"] == model_dir.name == model.version
    pairs = {"autoencoder.keras", "iforest.joblib"}
    pairs |= {
        f"{name}_peer{i}.{ext}"
        for i in (1, 2)
        for name, ext in (("autoencoder", "keras"), ("iforest", "joblib"))
    }
    assert set(manifest["files"]) == {"inference.npz", *pairs}
    assert manifest["members"] == model.members == 3 and len(model.peers) == 2
    # five metrics: no seasonal stage, so the format that format-3 jobs still run
    assert manifest["format"] == model_format(False) == 3 and model.value_range is not None
    assert model.seasonal is None
    assert manifest["feature_spec"]["metrics"] == model.metrics
    assert "scikit-learn" in manifest["libraries"] and manifest["threshold"] == model.threshold
    x = (
        np.random.default_rng(0).normal(size=(4, len(model.feature_mean))) * model.feature_scale
        + model.feature_mean
    )
    np.testing.assert_allclose(model.score(x).score, fitted.model.score(x).score)
    for loaded, peer in zip(model.peers, fitted.model.peers, strict=True):
        np.testing.assert_allclose(loaded.score_pair(x).score, peer.score_pair(x).score)
    assert model.metric_cap is not None and fitted.model.metric_cap is not None
    np.testing.assert_array_equal(model.metric_cap, fitted.model.metric_cap)
    assert model.value_runs is not None and fitted.model.value_runs is not None
    np.testing.assert_array_equal(model.value_runs, fitted.model.value_runs)


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


def tamper(d, name="inference.npz"):
    (d / name).write_bytes(b"tampered")


def test_watcher_swaps_in_a_newer_good_version_and_keeps_the_current_on_a_bad_one(
    model_dir, tmp_path, caplog
):
    root = tmp_path / "models"
    shutil.copytree(model_dir, root / "v1")
    w = ModelWatcher(str(root), interval_ms=1000)
    model, _ = w.initial()
    assert model.version == model_dir.name
    assert w.current == root / "v1"
    assert w.poll(0) is None  # nothing newer

    shutil.copytree(model_dir, root / "v2")
    tamper(root / "v2")
    assert w.poll(500) is None  # interval not yet passed
    assert w.poll(1000) is None and w.failures == 1 and w.current == root / "v1"
    assert "v2" in caplog.text and "rejected, keeping" in caplog.text
    assert w.poll(2000) is None and w.failures == 1  # a rejected version is not retried or re-logged

    shutil.copytree(model_dir, root / "v3")
    loaded = w.poll(3000)
    assert loaded is not None and loaded[1]["path"] == str(root / "v3") and w.reloads == 1


def test_watcher_starts_from_the_newest_good_version_and_refuses_when_none_is_good(model_dir, tmp_path):
    root = tmp_path / "models"
    shutil.copytree(model_dir, root / "v1")
    shutil.copytree(model_dir, root / "v2")
    tamper(root / "v2")
    w = ModelWatcher(str(root), interval_ms=0)
    w.initial()
    assert w.current == root / "v1" and w.poll(10**12) is None  # interval 0: reload off
    tamper(root / "v1")
    with pytest.raises(ModelIntegrityError, match="no usable model"):
        ModelWatcher(str(root), interval_ms=0).initial()


def test_watcher_rejects_a_model_that_does_not_fit_the_stream(model_dir, tmp_path):
    def other_metrics(model):
        raise ValueError("model was trained on other metrics")

    root = tmp_path / "models"
    shutil.copytree(model_dir, root / "v1")
    with pytest.raises(ModelIntegrityError, match="other metrics"):
        ModelWatcher(str(root), interval_ms=0, check=other_metrics).initial()


def test_a_model_of_another_feature_definition_is_refused(model_dir, tmp_path):
    d = tmp_path / model_dir.name
    shutil.copytree(model_dir, d)
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["feature_spec"]["feature_names"] = manifest["feature_spec"]["feature_names"][:-1]
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelIntegrityError, match="another feature definition"):
        verify(d)


def test_a_model_of_a_newer_format_is_refused_and_one_without_a_format_loads(model_dir, tmp_path):
    d = tmp_path / model_dir.name
    shutil.copytree(model_dir, d)
    manifest = json.loads((d / "manifest.json").read_text())
    for bad in (MODEL_FORMAT + 1, 0, True, "3"):
        (d / "manifest.json").write_text(json.dumps(dict(manifest, format=bad)))
        with pytest.raises(ModelIntegrityError, match=f"this code reads formats 1 to {MODEL_FORMAT}"):
            verify(d)
    del manifest["format"]  # exported before the field
    (d / "manifest.json").write_text(json.dumps(manifest))
    assert load_model(d)[0].members == 3


def test_job_submission_starts_from_the_version_the_detectors_will_load(model_dir, tmp_path):
    """The job checks before submitting what each detector does at start: the newest version that
    verifies and fits the stream, skipping a tampered newer one; none at all refuses with every reason."""
    from detector.config import load_config
    from jobs.detect import startup_model

    root = tmp_path / "models"
    shutil.copytree(model_dir, root / "v1")
    shutil.copytree(model_dir, root / "v2")
    tamper(root / "v2")
    cfg = load_config(None, [f"job.model_dir={root}"], env={})
    assert startup_model(cfg)["path"] == str(root / "v1")

    cfg.stream.metrics = ["cpu_usage"]  # a stream the model does not fit
    with pytest.raises(SystemExit, match=r"refusing to start: .*v2: .*hash.*v1: .*trained on metrics"):
        startup_model(cfg)
