import json
import os
import subprocess
import sys

import pytest

from detector.config import ConfigError, config_from_json, load_config


def test_defaults_and_precedence(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"redis": {"port": 7000, "db": 2}, "window": {"short": 5}}))
    cfg = load_config(f, ["redis.db=3"], env={"SENTINEL_REDIS__PORT": "7001", "OTHER": "x"})
    assert (cfg.redis.port, cfg.redis.db, cfg.window.short) == (7001, 3, 5)
    assert cfg.kafka.input_topic == "system-metrics"


def test_contributor_weights_from_env():
    cfg = load_config(None, [], env={"SENTINEL_ALERT__CONTRIBUTOR_ALPHA_NORMAL": "0.02"})
    assert (cfg.alert.contributor_alpha, cfg.alert.contributor_alpha_normal) == (0.1, 0.02)


def test_lists_and_bools_from_strings():
    cfg = load_config(None, ["stream.metrics=a,b", "redis.tls=true"], env={})
    assert cfg.stream.metrics == ["a", "b"]
    assert cfg.redis.tls is True


@pytest.mark.parametrize(
    "override, message",
    [
        ("redis.port=abc", "redis.port"),
        ("nope.x=1", "unknown config section"),
        ("redis.nope=1", "unknown field"),
        ("window.short=1", "window.short"),
        ("job.execution_mode=fast", "execution_mode"),
        ("bad", "section.field"),
        ("alert.contributor_alpha=0", "contributor_alpha"),
        ("alert.contributor_alpha_normal=1.5", "contributor_alpha_normal"),
        ("alert.contributor_alpha_normal=-0.1", "contributor_alpha_normal"),
        ("alert.range_tolerance=-0.05", "range_tolerance"),
        ("alert.range_tolerance=nan", "range_tolerance"),
        ("alert.stuck_rows=-1", "alert.stuck_rows"),
        ("alert.stuck_rows=16777216", "alert.stuck_rows"),
        ("window.long=70000", "window.long must be at most 65535"),
        ("window.ewma_alpha=2.5", "window.ewma_alpha"),
        ("window.baseline_alpha=1.5", "window.baseline_alpha"),
        ("window.baseline_alpha=0", "window.baseline_alpha"),
        ("window.drift_halflife_h=-1", "window.drift_halflife_h"),
        ("window.drift_halflife_h=nan", "window.drift_halflife_h"),
        ("window.drift_halflife_h=inf", "window.drift_halflife_h"),
        ("redis.max_buffer=0", "redis.max_buffer"),
        ("redis.batch_size=0", "redis.batch_size"),
        ("redis.ttl_s=0", "redis.ttl_s"),
        ("redis.socket_timeout_s=0", "redis.socket_timeout_s"),
        ("kafka.sasl_mechanism=OAUTHBEARER", "kafka.sasl_mechanism must be empty or one of PLAIN"),
        ("alert.n=9", "alert.n must be at most 8"),
        ("alert.episode_max_gap=10", "episode_max_gap"),  # below episode_gap (30)
        ("alert.episode_max_gap=256", "episode_max_gap"),
    ],
)
def test_bad_values_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override], env={})


def test_secrets_are_redacted_but_round_trip():
    cfg = load_config(None, ["redis.password=hunter2", "kafka.sasl_password=s3cret"], env={})
    assert "hunter2" not in repr(cfg) and "s3cret" not in str(cfg.to_dict())
    again = config_from_json(cfg.to_json())
    assert again.redis.password == "hunter2" and again.kafka.sasl_password == "s3cret"


def test_secrets_from_files_and_env_never_reach_the_output(tmp_path):
    (tmp_path / "kafka").write_text("kafka-file-secret\n")
    cfg = load_config(
        None,
        [f"kafka.sasl_password_file={tmp_path / 'kafka'}"],
        env={"SENTINEL_REDIS__PASSWORD": "redis-env-secret"},
    )
    assert cfg.kafka.sasl_password == "kafka-file-secret" and cfg.redis.password == "redis-env-secret"
    for shown in (repr(cfg), json.dumps(cfg.to_dict())):
        assert "kafka-file-secret" not in shown and "redis-env-secret" not in shown
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(None, [f"redis.password_file={tmp_path / 'missing'}"], env={})


def test_the_job_does_not_print_secrets(tmp_path):
    """The job's own output (config errors, refusals) carries no secret, whatever goes wrong."""
    env = dict(
        os.environ,
        SENTINEL_REDIS__PASSWORD="redis-env-secret-123",
        SENTINEL_KAFKA__SASL_PASSWORD="kafka-env-secret-456",
    )
    for args in (["--set", f"job.model_dir={tmp_path}"], ["--set", "kafka.delivery_guarantee=maybe"]):
        r = subprocess.run(
            [sys.executable, "-m", "jobs.detect", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert r.returncode != 0 and r.stderr
        assert "secret-123" not in r.stdout + r.stderr and "secret-456" not in r.stdout + r.stderr


def test_kafka_sasl_login_quotes_the_credentials():
    """A quote or backslash in a password stays inside the JAAS string (Kafka reads backslash escapes)."""
    from jobs.detect import kafka_properties

    cfg = load_config(
        None,
        ["kafka.security_protocol=SASL_SSL", "kafka.sasl_mechanism=SCRAM-SHA-512", "kafka.sasl_username=svc"],
        env={},
    )
    cfg.kafka.sasl_password = 'pa"ss\\word'
    jaas = kafka_properties(cfg)["sasl.jaas.config"]
    assert jaas == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="svc" '
        'password="pa\\"ss\\\\word";'
    )
