"""Static checks of the production deployment files (no Docker engine runs on the build machines)."""

import json
import re
import tomllib
from pathlib import Path

import yaml  # PyYAML comes with apache-flink (apache-beam)

from detector.config import Config, config_from_json

ROOT = Path(__file__).resolve().parents[1]


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_services_and_references():
    c = compose()
    services = c["services"]
    assert {"kafka", "kafka-topics", "redis", "jobmanager", "taskmanager", "submit"} <= set(services)
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        for d in deps if isinstance(deps, list) else deps.keys():
            assert d in services, f"{name} depends on unknown service {d}"
        image = svc.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image version ({image!r})"
    env = services["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert "zookeeper" not in json.dumps(c).lower()


def test_compose_creates_the_topics_the_job_uses():
    script = compose()["services"]["kafka-topics"]["command"][0]
    k = Config().kafka
    for topic in (k.input_topic, k.anomalies_topic, k.scores_topic, k.dlq_topic, k.late_topic):
        assert topic in script


def test_submission_points_at_the_job_and_a_valid_config():
    submit = compose()["services"]["submit"]
    cmd = submit["command"]
    assert cmd[:2] == ["flink", "run"] and "/opt/sentinel/jobs/detect.py" in cmd
    cfg = config_from_json((ROOT / "deploy/config.json").read_text())
    assert cfg.kafka.bootstrap_servers == "kafka:9092" and cfg.redis.host == "redis"
    assert (ROOT / "jobs/detect.py").is_file()


def test_image_flink_version_matches_the_python_pin():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    flink = next(p.split("==")[1] for p in pins if p.startswith("apache-flink=="))
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    assert re.search(rf"^FROM flink:{re.escape(flink)}-java17$", dockerfile, re.M), dockerfile.splitlines()[2]
    for jar in ("flink-connector-kafka.jar", "kafka-clients.jar", "sentinel-flink-helpers.jar"):
        assert jar in dockerfile and jar in (ROOT / "scripts/bootstrap.sh").read_text()


def test_cluster_config_parses():
    conf = yaml.safe_load((ROOT / "flink-conf/config.yaml").read_text())
    assert conf["execution"]["checkpointing"]["mode"] == "EXACTLY_ONCE"
    assert conf["taskmanager"]["numberOfTaskSlots"] >= 2
