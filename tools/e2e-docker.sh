#!/usr/bin/env bash
# End to end on a real Docker engine: the `e2e` stack (Pulumi.e2e.yaml) rendered by the
# offline preview, brought up with Compose, checked, and removed.
#
#   bash tools/e2e-docker.sh [--keep]
#
# Installs docker.io and debootstrap from Debian when missing (root), starts dockerd when
# none runs (and stops what it started), builds the images offline from Debian packages
# (images/, examples/agent-app), renders the stack, generates its secrets (never written
# into the repository) and runs tools/e2e_checks.py (first the backup drill against the stack as
# `pulumi up` creates it, from the program's own Container arguments, always torn down; then the
# Compose stack); then the same for a real agent server, Aegra (images/aegra,
# Pulumi.e2e-aegra.yaml, tools/e2e_aegra.py). --keep leaves the Compose stacks running.
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=""
[ "${1:-}" = "--keep" ] && KEEP="--keep"
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

WORK=${E2E_WORK:-/var/tmp/agent-platform-e2e}
mkdir -p "$WORK"
STARTED_DOCKERD=""
cleanup() {
  if [ -n "$STARTED_DOCKERD" ]; then
    kill "$STARTED_DOCKERD" 2>/dev/null || true
    wait "$STARTED_DOCKERD" 2>/dev/null || true
  fi
}
trap cleanup EXIT

step "Docker engine"
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  echo "installing docker.io and debootstrap from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  dockerd >"$WORK/dockerd.log" 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start: $(tail -3 "$WORK/dockerd.log")"; exit 1; }
  echo "started dockerd (pid $STARTED_DOCKERD); it is stopped at the end"
fi
docker version --format 'engine {{.Server.Version}}'

# debian_base IMAGE SUITE PACKAGES ROOTFS: IMAGE as `docker import` of a minbase debootstrap of SUITE with
# PACKAGES, in $WORK/ROOTFS (its log beside it). An image built from another package list (an older
# checkout) is built again; the list is its `packages` label.
debian_base() {
  local image=$1 suite=$2 packages=$3 rootfs="$WORK/$4" log="$WORK/debootstrap${4#rootfs}.log"
  if [ "$(docker image inspect -f '{{index .Config.Labels "packages"}}' "$image" 2>/dev/null)" != "$packages" ]; then
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include="$packages" \
      "$suite" "$rootfs" http://deb.debian.org/debian >"$log" 2>&1 \
      || { tail -5 "$log"; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import --change "LABEL packages=$packages" - "$image" >/dev/null
    rm -rf "$rootfs"
  fi
}

step "Base image from Debian packages"
BASE=agent-platform-e2e/base:bookworm
# pgbackrest: the Postgres image archives WAL with it and the backup containers run it.
PACKAGES=python3,python3-psycopg2,python3-redis,postgresql-15,pgbackrest,redis-server,redis-tools,nginx-light,wget,procps,ca-certificates
debian_base "$BASE" bookworm "$PACKAGES" rootfs
echo "$BASE: $(docker run --rm "$BASE" dpkg-query -W -f '${Package} ${Version}, ' postgresql-15 pgbackrest)"

step "Monitoring base from Debian packages (Prometheus and the exporters)"
# Its own package list, so the shared base stays as it is (a change to a list rebuilds that base only).
MONITORING_BASE=agent-platform-e2e/base:bookworm-monitoring
MONITORING_PACKAGES=prometheus,prometheus-postgres-exporter,prometheus-redis-exporter,wget,ca-certificates
debian_base "$MONITORING_BASE" bookworm "$MONITORING_PACKAGES" rootfs-monitoring
echo "$MONITORING_BASE: $(docker run --rm "$MONITORING_BASE" dpkg-query -W -f '${Package} ${Version}, ' \
  prometheus prometheus-postgres-exporter prometheus-redis-exporter)"

step "Debian 13 base for Aegra (Python 3.13)"
TRIXIE=agent-platform-e2e/base:trixie
TRIXIE_PACKAGES=python3,python3-venv,ca-certificates,procps
debian_base "$TRIXIE" trixie "$TRIXIE_PACKAGES" rootfs-trixie
echo "$TRIXIE: $(docker run --rm "$TRIXIE" python3 --version)"

step "Images"
docker build -q -t agent-platform-e2e/app:1.0.0 -f images/app/Dockerfile examples/agent-app
for image in postgres redis nginx prometheus postgres-exporter redis-exporter; do
  docker build -q -t "agent-platform-e2e/$image:1.0.0" "images/$image"
done

# Aegra from its wheels, downloaded here (PyPI is reachable from the host only) by the hashes of
# images/aegra/requirements.lock and installed in the image with --no-index; 1.0.1 is the same
# build with another label, the new image of the rolling-update check.
AEGRA_CONTEXT="$WORK/aegra-context"
rm -rf "$AEGRA_CONTEXT" && mkdir -p "$AEGRA_CONTEXT/wheels"
cp images/aegra/Dockerfile images/aegra/aegra.json images/aegra/chain_graph.py "$AEGRA_CONTEXT/"
cp images/aegra/requirements.lock "$AEGRA_CONTEXT/wheels/"
venv/bin/pip download --quiet --no-deps --require-hashes --only-binary=:all: --python-version 3.13 \
  --implementation cp --abi cp313 --abi abi3 --abi none \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_34_x86_64 --platform linux_x86_64 --platform any \
  -r images/aegra/requirements.lock -d "$AEGRA_CONTEXT/wheels" 2>&1 | grep -v "^WARNING: Location" || true
echo "aegra wheels: $(find "$AEGRA_CONTEXT/wheels" -name '*.whl' | wc -l)"
docker build -q -t agent-platform-e2e/aegra:1.0.0 "$AEGRA_CONTEXT"
# The OTLP receiver of the Aegra tracing check (images/otlp-receiver), from its wheels the same way.
RECEIVER_CONTEXT="$WORK/otlp-receiver-context"
rm -rf "$RECEIVER_CONTEXT" && mkdir -p "$RECEIVER_CONTEXT/wheels"
cp images/otlp-receiver/Dockerfile images/otlp-receiver/receiver.py "$RECEIVER_CONTEXT/"
cp images/otlp-receiver/requirements.lock "$RECEIVER_CONTEXT/wheels/"
venv/bin/pip download --quiet --no-deps --require-hashes --only-binary=:all: --python-version 3.13 \
  --implementation cp --abi cp313 --abi abi3 --abi none \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_34_x86_64 --platform linux_x86_64 --platform any \
  -r images/otlp-receiver/requirements.lock -d "$RECEIVER_CONTEXT/wheels" 2>&1 | grep -v "^WARNING: Location" || true
docker build -q -t agent-platform-e2e/otlp-receiver:1.0.0 "$RECEIVER_CONTEXT"
docker build -q -t agent-platform-e2e/aegra:1.0.1 --label release=1.0.1 "$AEGRA_CONTEXT"

step "Render the e2e stack"
OUT="$WORK/render"
secret() { python3 -c 'import secrets; print(secrets.token_hex(16))'; }
export PULUMI_CONFIG_AGENT_PLATFORM_OPENAIAPIKEY="e2e-$(secret)"
venv/bin/python -m preview e2e --out "$OUT"

step "Secrets (generated for this run)"
PG=$(secret); REDIS=$(secret)
ENV_FILE="$WORK/compose.env"
umask 077
# compose.env from the rendered example, as a user fills it: each change-me set, the URLs left as
# the example derives them (Compose expands them from the passwords above them).
while IFS= read -r line; do
  case "$line" in
    POSTGRES_PASSWORD=change-me) echo "POSTGRES_PASSWORD=$PG" ;;
    REDIS_PASSWORD=change-me) echo "REDIS_PASSWORD=$REDIS" ;;
    OPENAI_API_KEY=change-me) echo "OPENAI_API_KEY=$PULUMI_CONFIG_AGENT_PLATFORM_OPENAIAPIKEY" ;;
    *=change-me) echo "compose.env.example asks for ${line%%=*}, which this script does not generate" >&2; exit 1 ;;
    *) echo "$line" ;;
  esac
done <"$OUT/compose.env.example" >"$ENV_FILE"
echo "$ENV_FILE (mode 600, outside the repository)"

step "Checks"
status=0
venv/bin/python tools/e2e_checks.py --compose "$OUT/docker-compose.yml" --env-file "$ENV_FILE" $KEEP || status=$?
if [ -n "$KEEP" ]; then
  STARTED_DOCKERD=""   # leave the engine running with the stack
  echo "compose file: $(cd "$OUT" && pwd)/docker-compose.yml"
else
  rm -f "$ENV_FILE"
fi

step "Aegra: render the e2e-aegra stack, and the same stack with the new image"
AEGRA_OUT="$WORK/render-aegra"
venv/bin/python -m preview e2e-aegra --out "$AEGRA_OUT"
BUMPED_STACK="$WORK/Pulumi.e2e-aegra.yaml"
sed 's|image: agent-platform-e2e/aegra:1.0.0|image: agent-platform-e2e/aegra:1.0.1|' Pulumi.e2e-aegra.yaml >"$BUMPED_STACK"
grep -q 'aegra:1.0.1' "$BUMPED_STACK" || { echo "the image bump did not apply to $BUMPED_STACK"; exit 1; }
venv/bin/python -m preview e2e-aegra --config-file "$BUMPED_STACK" --out "$WORK/render-aegra-bumped" >/dev/null
AEGRA_ENV="$WORK/compose-aegra.env"
PG=$(secret); REDIS=$(secret)
while IFS= read -r line; do
  case "$line" in
    POSTGRES_PASSWORD=change-me) echo "POSTGRES_PASSWORD=$PG" ;;
    REDIS_PASSWORD=change-me) echo "REDIS_PASSWORD=$REDIS" ;;
    *=change-me) echo "compose.env.example asks for ${line%%=*}, which this script does not generate" >&2; exit 1 ;;
    *) echo "$line" ;;
  esac
done <"$AEGRA_OUT/compose.env.example" >"$AEGRA_ENV"

step "Aegra checks (langgraph-sdk)"
aegra_status=0
venv/bin/python tools/e2e_aegra.py --compose "$AEGRA_OUT/docker-compose.yml" --env-file "$AEGRA_ENV" \
  --bumped "$WORK/render-aegra-bumped/docker-compose.yml" $KEEP || aegra_status=$?
[ -n "$KEEP" ] || rm -f "$AEGRA_ENV"
[ $aegra_status -eq 0 ] || status=$aegra_status
printf '\ne2e finished in %ss: %s\n' "$SECONDS" "$([ $status -eq 0 ] && echo passed || echo FAILED)"
exit $status
