#!/usr/bin/env bash
# `npm test`: install the servers the tests start (Debian packages), install
# node_modules when needed, compile with tsc, run every compiled test file with
# tap, and print as the LAST line of output:
#
#     N passed, N failed
#
# The counts are TAP test points (the assertions inside every test file), as
# tap's own parser counts them: each passing assertion is one "passed"; each
# failing assertion is one "failed"; a test FILE that crashes, exits non-zero
# or times out adds a failure even when none of its assertions failed (tap
# reports it as a failing test point of its own), and so does a file that tap
# never reported on. Skipped and todo points are in neither number (printed on
# the line before). Exit status: 0 only when nothing failed and at least one
# test passed.
#
# Works unattended (CI=true, no stdin, as root). Environment knobs:
#   TEST_JOBS     test files run in parallel (default 2: servers are heavy)
#   TEST_TIMEOUT  seconds per test file (default 300)
#   TEST_FILES    space-separated compiled test files to run instead of all
#                 (e.g. "dist/test/services/harness.test.js")
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

finish() { # passed failed exit-code
  echo "$1 passed, $2 failed"
  exit "$3"
}
die() { # message: setup failed before any test ran
  echo "npm test: $*" >&2
  finish 0 1 1
}

# --- 1. Debian packages for the servers the tests start ---------------------
# binary:package pairs. Add here when a test needs another Debian service.
REQUIRED_DEBS=(
  "clickhouse-server:clickhouse-server"
  "redis-server:redis-server"
  # a client, not a server: librdkafka's command-line tool (test/services/kcat.ts)
  "kcat:kcat"
  # PostgreSQL (test/services/postgres.ts): its server binaries live in
  # /usr/lib/postgresql/<version>/bin, off PATH; pg_ctlcluster (postgresql-common,
  # pulled in by postgresql) is on PATH and stands for them here
  "pg_ctlcluster:postgresql"
  # Prometheus scraping a live sidecar, and promtool for the chart's alert rules (test/charts)
  "prometheus:prometheus"
  "promtool:prometheus"
  # a file, not a binary: the font the benchmark report's charts are drawn with (test/bench-report)
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:fonts-dejavu-core"
)

have_binary() {
  case $1 in /*) [ -e "$1" ]; return ;; esac
  command -v "$1" >/dev/null 2>&1 && return 0
  local d
  for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    [ -x "$d/$1" ] && return 0
  done
  return 1
}

# SIGTERM a system-wide instance that the package install started (pid file).
stop_started_service() { # pidfile...
  local f pid
  for f in "$@"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null) || continue
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || continue
    echo "npm test: stopping the service the install started (pid $pid from $f)" >&2
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

install_debs() {
  local missing=() pair bin pkg
  for pair in "${REQUIRED_DEBS[@]}"; do
    bin=${pair%%:*}
    pkg=${pair#*:}
    have_binary "$bin" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0

  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]}: run as root or install them: apt-get install ${missing[*]}"
    sudo=(sudo -n)
  fi
  echo "npm test: installing Debian packages: ${missing[*]}" >&2

  # Keep the packages' init scripts from starting system-wide servers
  # (policy-rc.d exit 101 = "action forbidden"); tests start their own.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, from breakwater test/run.sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null &&
      "${sudo[@]}" chmod 755 "$policy" && created_policy=1
  fi

  local rc=0
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >&2 || rc=$?
  if [ $rc -eq 0 ]; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      -o DPkg::Lock::Timeout=300 \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      "${missing[@]}" </dev/null >&2 || rc=$?
  fi

  [ $created_policy -eq 1 ] && "${sudo[@]}" rm -f "$policy"
  # In case an init script started one anyway: nothing may listen on the default ports.
  # Only for the packages installed just now: anything else was not started by us.
  for pkg in "${missing[@]}"; do
    case $pkg in
      redis-server) stop_started_service /run/redis/redis-server.pid /var/run/redis/redis-server.pid ;;
      clickhouse-server) stop_started_service /run/clickhouse-server/clickhouse-server.pid /var/run/clickhouse-server/clickhouse-server.pid ;;
      # the package creates a cluster <version>/main; its postmaster writes /run/postgresql/<version>-main.pid
      postgresql) stop_started_service /run/postgresql/*-main.pid /var/run/postgresql/*-main.pid ;;
    esac
  done

  [ $rc -eq 0 ] || die "apt-get failed (exit $rc) installing ${missing[*]}"
  for pair in "${REQUIRED_DEBS[@]}"; do
    have_binary "${pair%%:*}" || die "${pair%%:*} still missing after apt-get install ${pair#*:}"
  done
}

install_debs

# --- 1b. Kafka broker jars (Maven Central, cached outside the repo) ----------
# test/services/kafka-install.sh: a no-op when ~/.cache/breakwater/kafka-<version>
# is complete; otherwise needs java and mvn, and prints how long the download took.
bash test/services/kafka-install.sh </dev/null >&2 || die "installing the Kafka jars failed (errors above): run bash test/services/kafka-install.sh"
bash test/services/debezium-install.sh </dev/null >&2 || die "installing Kafka Connect + the Debezium PostgreSQL connector (Maven jars) failed (errors above): run bash test/services/debezium-install.sh"
bash test/services/neo4j-install.sh </dev/null >&2 || die "installing Neo4j Community (Maven jars + initial password) failed (errors above): run bash test/services/neo4j-install.sh"
bash test/charts/tools-install.sh </dev/null >&2 || die "installing helm, kubeconform, pss-check and the Kubernetes schemas for the chart tests failed (errors above): needs go, python3 -m pip and the Go module proxy and PyPI; run bash test/charts/tools-install.sh"
bash test/services/rdkafka-install.sh </dev/null >&2 || die "installing confluent-kafka (librdkafka) for the Kafka proxy tests failed (errors above): needs python3 with venv (apt-get install python3-venv) and PyPI access; run bash test/services/rdkafka-install.sh"

# --- 2. node_modules and the build -------------------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "npm test: npm ci (node_modules missing or older than package-lock.json)" >&2
  npm ci --no-audit --no-fund </dev/null >&2 || die "npm ci failed"
fi

echo "npm test: tsc -p tsconfig.json" >&2
node_modules/.bin/tsc -p tsconfig.json || die "TypeScript build failed (errors above): fix them, then rerun npm test"

# --- 3. tap ---------------------------------------------------------------
# Test files: test/**/*.test.ts except test/bench, as compiled into dist/.
# Listing from the sources means a stale dist/ file of a deleted test never runs.
files=()
if [ -n "${TEST_FILES:-}" ]; then
  read -r -a files <<<"$TEST_FILES"
else
  while IFS= read -r src; do
    files+=("dist/${src%.ts}.js")
  done < <(find test -path test/bench -prune -o -type f -name '*.test.ts' -print | LC_ALL=C sort)
fi
for f in "${files[@]}"; do
  [ -f "$f" ] || die "compiled test file $f is missing after tsc"
done
[ ${#files[@]} -gt 0 ] || { echo "npm test: no test files found (test/**/*.test.ts)" >&2; finish 0 0 1; }

tapout=$(mktemp -t breakwater-tap.XXXXXX)

# Raw TAP on stdout (readable in CI logs) and in $tapout for counting.
# Coverage is off; test files run 2 at a time with a generous per-file timeout.
node_modules/.bin/tap run \
  --reporter=tap \
  --no-color \
  --disable-coverage \
  --jobs="${TEST_JOBS:-2}" \
  --timeout="${TEST_TIMEOUT:-300}" \
  "${files[@]}" </dev/null | tee "$tapout"
tap_rc=${PIPESTATUS[0]}

# Count with tap's own parser (tap-parser, a dependency of tap). Its root
# 'pass'/'fail' events fire once per test point, and a subtest's own closing
# point only when it adds information (a file that crashed, timed out or
# exited non-zero without a failing assertion inside).
countfile=$(mktemp -t breakwater-count.XXXXXX)
trap 'rm -f "$tapout" "$countfile"' EXIT
node --input-type=module - "$tapout" "$countfile" "${files[@]}" <<'EOF' || die "could not count the tap results in $tapout"
import fs from 'node:fs';
import path from 'node:path';
import { Parser } from 'tap-parser';
const [file, countFile, ...expected] = process.argv.slice(2);
const c = { pass: 0, fail: 0, skip: 0, todo: 0 };
const failures = [];
const reported = new Set();
let bailout = null;
const p = new Parser();
p.on('pass', () => c.pass++);
p.on('fail', (r) => {
  c.fail++;
  const name = String(r.fullname || r.name || '(unnamed)').replace(/\s+/g, ' ');
  failures.push(name.length > 240 ? `${name.slice(0, 240)}...` : name);
});
p.on('skip', () => c.skip++);
p.on('todo', () => c.todo++);
// top-level points: one per file, named by its path relative to the cwd
const norm = (f) => path.relative(process.cwd(), path.resolve(f));
p.on('assert', (r) => reported.add(norm(r.name)));
p.on('bailout', (reason) => { bailout = reason || 'bail out'; });
p.on('complete', () => {
  for (const f of expected) {
    if (!reported.has(norm(f))) { c.fail++; failures.push(`${f} (no result reported by tap)`); }
  }
  if (bailout !== null) { c.fail++; failures.push(`bail out: ${bailout}`); }
  const lines = [];
  if (failures.length) lines.push('# failed:', ...failures.map((f) => `#   ${f}`));
  lines.push(`# ${c.skip} skipped, ${c.todo} todo`);
  process.stdout.write(lines.join('\n') + '\n');
  fs.writeFileSync(countFile, `${c.pass} ${c.fail}\n`);
});
p.end(fs.readFileSync(file));
EOF

read -r passed failed <"$countfile"
[[ "$passed" =~ ^[0-9]+$ && "$failed" =~ ^[0-9]+$ ]] || die "could not count the tap results in $tapout"
if [ "$tap_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "# tap exited with status $tap_rc without a failing test point: counted as 1 failure"
  failed=1
fi
if [ "$failed" -gt 0 ]; then
  finish "$passed" "$failed" 1
elif [ "$passed" -eq 0 ]; then
  echo "# no test passed: counted as a failed run"
  finish 0 0 1
fi
finish "$passed" 0 0
