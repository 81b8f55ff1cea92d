#!/usr/bin/env bash
# One-time (idempotent) set-up on a fresh machine, with a line per step and its time.
#
#   bash tools/setup.sh          # what the offline preview needs: ./venv (requirements/preview.lock)
#                                  # and the CRD validators (Node, preview/crds)
#   bash tools/setup.sh --test   # also the tests and linters (requirements/dev.lock) and
#                                  # ./.venv-checkov (requirements/checkov.lock)
#
# Every Python package is installed from a lock file with `--require-hashes` (tools/lock.sh
# writes them). A step whose inputs did not change since it last ran is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TEST=""
case "${1:-}" in
  "") ;;
  --test) TEST=1 ;;
  *) echo "error: tools/setup.sh: unknown option ${1} (use --test, or nothing)" >&2; exit 2 ;;
esac
stamp() { cat "$@" | sha256sum | cut -c1-16; }
started=$SECONDS
step_start=0
steps=0
step() { steps=$((steps + 1)); step_start=$SECONDS; printf 'setup: %s ... ' "$1" >&2; }
done_step() { printf 'done in %ss%s\n' "$((SECONDS - step_start))" "${1:+ ($1)}" >&2; }
size() { du -sh "$1" 2>/dev/null | cut -f1; }

install_locked() {  # venv lockfile label
  local venv=$1 lock=$2 label=$3 want
  want=$(stamp "$lock")
  if [ "$(cat "$venv/.installed-$label" 2>/dev/null)" = "$want" ]; then
    return
  fi
  step "$label: installing $(grep -c '^[a-zA-Z]' "$lock") pinned packages from $lock into ./$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
  echo "$want" > "$venv/.installed-$label"
  done_step "$(size "$venv")"
}

if [ ! -x venv/bin/python ]; then
  step "creating ./venv ($("$PYTHON" --version))"
  "$PYTHON" -m venv venv
  done_step
fi
install_locked venv requirements/preview.lock preview
# The components, editable from components/ (as requirements.txt has `pulumi up` install them):
# the program, the preview and the tests import the package this checkout holds.
want=$(stamp components/pyproject.toml)
if [ "$(cat venv/.installed-components 2>/dev/null)" != "$want" ]; then
  step "components: installing components/ (editable) into ./venv"
  # The distribution was named agent-platform, which on PyPI is an unrelated project's: a venv
  # that still has it (our old editable install, or the stranger's) loses it before the new one.
  if venv/bin/python -m pip show --disable-pip-version-check --quiet agent-platform >/dev/null 2>&1; then
    venv/bin/python -m pip uninstall --quiet --disable-pip-version-check --yes agent-platform
  fi
  venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e ./components
  echo "$want" > venv/.installed-components
  done_step
fi
if [ -n "$TEST" ]; then
  install_locked venv requirements/dev.lock dev
fi

# The policy pack's own virtualenv (PulumiPolicy.yaml `virtualenv: venv`): the project venv
# already holds policies/requirements.txt, so `pulumi preview --policy-pack policies` uses it.
if [ ! -e policies/venv ]; then ln -s ../venv policies/venv; fi

# Validators for the CRD-backed objects (KEDA, Gateway API, External Secrets, Prometheus
# Operator), generated from the upstream CRDs by kubernetes-models: Node packages pinned by
# preview/crds/package-lock.json (npm ci checks their integrity hashes). Without them the
# preview reports such objects as not validated.
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing nodejs and npm (apt)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    done_step
  else
    echo "setup: npm not found; custom resources will be reported as not validated" >&2
  fi
fi
if command -v npm >/dev/null; then
  want=$(stamp preview/crds/package-lock.json)
  if [ "$(cat preview/crds/node_modules/.installed 2>/dev/null)" != "$want" ]; then
    step "installing the CRD validators (npm ci) into preview/crds/node_modules"
    npm ci --prefix preview/crds --no-audit --no-fund --silent
    echo "$want" > preview/crds/node_modules/.installed
    done_step "$(size preview/crds/node_modules)"
  fi
fi

# promtool, which runs the rendered alert rules against series in the exporters' shapes
# (tests/components/k8s/test_alerts_fire.py): the binary alone, from Debian's prometheus package
# (signed by the archive; no server is installed or started).
if [ -n "$TEST" ] && [ ! -x venv/bin/promtool ]; then
  step "promtool: Debian's prometheus package, its promtool binary into ./venv/bin"
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
    [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null
    (cd "$tmp" && apt-get download prometheus >/dev/null) \
      || { echo "setup: cannot download Debian's prometheus package (apt); the alert tests need promtool" >&2; exit 1; }
  fi
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool
  install -m 755 "$tmp/usr/bin/promtool" venv/bin/promtool
  rm -rf "$tmp"
  done_step "$(venv/bin/promtool --version 2>&1 | head -1)"
fi

if [ -n "$TEST" ]; then
  if [ ! -x .venv-checkov/bin/python ]; then
    step "creating ./.venv-checkov"
    "$PYTHON" -m venv .venv-checkov
    done_step
  fi
  install_locked .venv-checkov requirements/checkov.lock checkov
fi
# One closing line even when every step was already done (a rerun installs nothing).
if [ "$steps" -eq 0 ]; then
  echo "setup: ready, nothing to do (every step is up to date)" >&2
else
  echo "setup: ready in $((SECONDS - started))s ($steps step(s) run)" >&2
fi
