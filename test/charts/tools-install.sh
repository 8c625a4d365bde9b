#!/usr/bin/env bash
# Installs what the chart tests (test/charts/*.test.ts) run, into a cache OUTSIDE the
# repository (never committed):
#
#   ${BREAKWATER_K8S_TOOLS:-${XDG_CACHE_HOME:-~/.cache}/breakwater/k8s-tools}/
#     bin/helm          helm.sh/helm/v3/cmd/helm, go install from the Go module proxy
#     bin/kubeconform   github.com/yannh/kubeconform/cmd/kubeconform, go install
#     bin/pss-check     test/charts/pss-check (k8s.io/pod-security-admission), go build;
#                       rebuilt when its sources change (bin/pss-check.sum)
#     schemas/vX.Y.Z-local-strict/*.json
#                       the Kubernetes API's JSON schemas (strict: unknown fields are errors),
#                       from the PyPI wheel kubernetes-validate (they travel with the package)
#     crds/*.yaml       the Prometheus Operator's CRDs (PodMonitor, PrometheusRule, ...), from
#                       the Go module github.com/prometheus-operator/prometheus-operator
#
# Idempotent: a quick no-op when everything is there. Needs go and python3 with pip.
# The first run builds helm (about 3 minutes on 2 cores). Run it by hand with
# `bash test/charts/tools-install.sh`. Keep the versions in step with test/charts/tools.ts.
set -euo pipefail

HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VALIDATE_VERSION=1.37.0
K8S_SCHEMA_VERSIONS=(1.28.0 1.31.0 1.35.0)
PROMETHEUS_OPERATOR_VERSION=v0.85.0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${BREAKWATER_K8S_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/breakwater/k8s-tools}
BIN=$DIR/bin
mkdir -p "$BIN" "$DIR/schemas" "$DIR/crds"

say() { echo "k8s-tools-install: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
command -v go >/dev/null || die "go is missing: install Go 1.22+ (the Go module proxy must be reachable)"

# go install writes to GOBIN; a version stamp next to each binary says which one it is.
go_install() { # name module version
  local name=$1 module=$2 version=$3
  if [ -x "$BIN/$name" ] && [ "$(cat "$BIN/$name.version" 2>/dev/null)" = "$version" ]; then return 0; fi
  say "building $name $version (go install $module@$version)"
  local start=$SECONDS
  GOBIN=$BIN go install "$module@$version" || die "go install $module@$version failed"
  echo "$version" >"$BIN/$name.version"
  say "$name built in $((SECONDS - start)) s"
}

go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
go_install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"

# pss-check: our own small checker around k8s.io/pod-security-admission.
PSS_SRC=$ROOT/test/charts/pss-check
pss_sum=$(cat "$PSS_SRC/go.mod" "$PSS_SRC/go.sum" "$PSS_SRC"/*.go | sha256sum | cut -d' ' -f1)
if [ ! -x "$BIN/pss-check" ] || [ "$(cat "$BIN/pss-check.sum" 2>/dev/null)" != "$pss_sum" ]; then
  say "building pss-check (k8s.io/pod-security-admission)"
  start=$SECONDS
  (cd "$PSS_SRC" && go build -trimpath -o "$BIN/pss-check" .) || die "building test/charts/pss-check failed"
  echo "$pss_sum" >"$BIN/pss-check.sum"
  say "pss-check built in $((SECONDS - start)) s"
fi

# Kubernetes JSON schemas from the kubernetes-validate wheel.
missing=()
for v in "${K8S_SCHEMA_VERSIONS[@]}"; do
  [ -f "$DIR/schemas/v$v-local-strict/deployment-apps-v1.json" ] || missing+=("v$v-local-strict")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "fetching kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI for the schemas ${missing[*]}"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" </dev/null ||
    die "pip download kubernetes-validate==$KUBERNETES_VALIDATE_VERSION failed (needs python3 -m pip and PyPI)"
  python3 - "$tmp"/kubernetes_validate-*.whl "$DIR/schemas" "${missing[@]}" <<'PY' || die "unpacking the schemas failed"
import json, os, sys, zipfile
wheel, out, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
prefix = 'kubernetes_validate/kubernetes-json-schema/'
n = 0
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if not name.startswith(prefix) or name.endswith('/'):
            continue
        rel = name[len(prefix):]
        if rel.split('/')[0] not in wanted:
            continue
        dest = os.path.join(out, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        schema = json.loads(z.read(name))
        # The wheel's schemas name themselves https://kubernetes.io/api/... ($id) and point at
        # their shared definitions as /api/_definitions.json, which its own resolver maps;
        # kubeconform resolves a $ref against the file's path, so: no $id, relative refs.
        schema.pop('$id', None)
        data = json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')
        with open(dest + '.part', 'w') as dst:
            dst.write(data)
        os.replace(dest + '.part', dest)
        n += 1
missing = [w for w in wanted if not os.path.isdir(os.path.join(out, w))]
if missing:
    sys.exit(f'the wheel has no schemas for {missing}')
print(f'k8s-tools-install: {n} schema files unpacked', file=sys.stderr)
PY
fi

# The Prometheus Operator's CRDs (the tests turn them into JSON schemas for kubeconform).
if [ ! -f "$DIR/crds/$PROMETHEUS_OPERATOR_VERSION/monitoring.coreos.com_podmonitors.yaml" ]; then
  say "fetching github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION for its CRDs"
  moddir=$(cd "$DIR" && GOFLAGS=-mod=mod go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') || die "go mod download of the prometheus-operator module failed"
  mkdir -p "$DIR/crds/$PROMETHEUS_OPERATOR_VERSION.part"
  cp "$moddir"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml "$DIR/crds/$PROMETHEUS_OPERATOR_VERSION.part/"
  rm -rf "$DIR/crds/$PROMETHEUS_OPERATOR_VERSION"
  mv "$DIR/crds/$PROMETHEUS_OPERATOR_VERSION.part" "$DIR/crds/$PROMETHEUS_OPERATOR_VERSION"
fi
say "ready in $DIR"
