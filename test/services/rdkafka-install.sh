#!/usr/bin/env bash
# Installs the librdkafka-based client that test/proxy/kafka/librdkafka.test.ts
# drives through the Kafka proxy: the Python package confluent-kafka from PyPI
# (its manylinux wheel bundles a recent librdkafka, which negotiates FLEXIBLE
# protocol versions; Debian's kcat/librdkafka 2.0.2 does not), in a Python
# venv in a cache OUTSIDE the repository (never committed):
#
#   ${BREAKWATER_RDKAFKA_VENV:-${XDG_CACHE_HOME:-~/.cache}/breakwater/rdkafka-venv-<version>}/
#     bin/python     the venv's python, with confluent_kafka importable
#     .installed     written last; test/services/rdkafka.ts refuses to run without it
#
# Idempotent: quick no-op when the venv is complete. Needs python3 (3.8+) with
# the venv module (Debian: apt-get install python3-venv) and access to PyPI
# (pip's usual configuration: PIP_INDEX_URL etc. apply). Run by test/run.sh
# (npm test); run it by hand with `bash test/services/rdkafka-install.sh`.
#
# Keep CONFLUENT_KAFKA_VERSION in step with CONFLUENT_KAFKA_VERSION in
# test/services/rdkafka.ts.
set -euo pipefail

CONFLUENT_KAFKA_VERSION=2.16.1

VENV=${BREAKWATER_RDKAFKA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/breakwater/rdkafka-venv-$CONFLUENT_KAFKA_VERSION}
MARKER="$VENV/.installed"

say() { echo "rdkafka-install: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

installed() { [ -f "$MARKER" ] && [ -x "$VENV/bin/python" ]; }

if installed; then
  exit 0 # cached
fi

PYTHON=${BREAKWATER_PYTHON:-}
if [ -z "$PYTHON" ]; then
  PYTHON=$(command -v python3 2>/dev/null || true)
fi
[ -n "$PYTHON" ] || die "python3 not found: install Python 3.8+ (apt-get install python3 python3-venv), or set BREAKWATER_PYTHON"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)' ||
  die "$PYTHON is older than Python 3.8: install a newer python3, or set BREAKWATER_PYTHON"

parent=$(dirname "$VENV")
mkdir -p "$parent"
# One install at a time (parallel CI jobs, two checkouts): wait, then re-check.
exec 9>"$VENV.lock"
if command -v flock >/dev/null 2>&1; then
  flock -w 900 9 || die "timed out waiting for another rdkafka-install.sh ($VENV.lock)"
fi
if installed; then
  exit 0 # another install finished meanwhile
fi
rm -rf "$VENV" # an incomplete earlier install (no marker)

# A venv records its own absolute path (bin/activate, script shebangs), so it is
# built at its final path (not renamed into place); the marker is written last,
# and an interrupted install (no marker) is removed here or by the next run.
cleanup() {
  if [ -n "${VENV:-}" ] && [ ! -f "$MARKER" ]; then rm -rf "$VENV"; fi
}
trap cleanup EXIT

say "creating a venv with $PYTHON ($("$PYTHON" -c 'import platform; print(platform.python_version())')) in $VENV"
t0=$(date +%s)
log=$(mktemp "${TMPDIR:-/tmp}/breakwater-rdkafka-install-XXXXXX")
if ! "$PYTHON" -m venv "$VENV" </dev/null >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  die "$PYTHON -m venv failed (output above): on Debian/Ubuntu install python3-venv (apt-get install python3-venv)"
fi

say "pip install confluent-kafka==$CONFLUENT_KAFKA_VERSION (a wheel with librdkafka bundled)"
# --only-binary: the sdist would need librdkafka headers and a compiler; the
# point is the wheel's bundled librdkafka.
if ! PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$VENV/bin/python" -m pip install \
  --quiet --no-cache-dir --only-binary=:all: "confluent-kafka==$CONFLUENT_KAFKA_VERSION" </dev/null >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  die "pip install confluent-kafka==$CONFLUENT_KAFKA_VERSION failed (output above): check access to PyPI (PIP_INDEX_URL), or that a manylinux wheel exists for this python/platform"
fi
rm -f "$log"

versions=$("$VENV/bin/python" -c 'import confluent_kafka as c; print("confluent-kafka %s, librdkafka %s" % (c.__version__, c.libversion()[0]))' </dev/null) ||
  die "confluent_kafka does not import in $VENV"
t1=$(date +%s)

echo "$versions, installed $(date -u +%FT%TZ)" >"$MARKER"
say "installed $versions in $VENV ($(du -sh "$VENV" | cut -f1), $((t1 - t0)) s)"
