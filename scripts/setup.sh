#!/usr/bin/env bash
# One-time (idempotent) set-up on a fresh machine: ./venv with the pinned program,
# test and tool dependencies, and ./.venv-checkov with Checkov. Quiet when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

if [ ! -x venv/bin/python ]; then "$PYTHON" -m venv venv; fi
want=$(stamp requirements.txt requirements-dev.txt policies/requirements.txt)
if [ "$(cat venv/.installed 2>/dev/null)" != "$want" ]; then
  echo "setup: installing pinned requirements into ./venv" >&2
  venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > venv/.installed
fi

# The policy pack's own virtualenv (PulumiPolicy.yaml `virtualenv: venv`): the project venv
# already holds policies/requirements.txt, so `pulumi preview --policy-pack policies` uses it.
if [ ! -e policies/venv ]; then ln -s ../venv policies/venv; fi

# Validators for the CRD-backed objects (KEDA, Gateway API, External Secrets, Prometheus
# Operator), generated from the upstream CRDs by kubernetes-models: Node packages pinned by
# preview/crds/package-lock.json. Without them the preview reports such objects as not validated.
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing nodejs and npm (apt)" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "setup: npm not found; custom resources will be reported as not validated" >&2
  fi
fi
if command -v npm >/dev/null; then
  want=$(stamp preview/crds/package-lock.json)
  if [ "$(cat preview/crds/node_modules/.installed 2>/dev/null)" != "$want" ]; then
    echo "setup: installing the CRD validators into preview/crds/node_modules" >&2
    npm ci --prefix preview/crds --no-audit --no-fund --silent
    echo "$want" > preview/crds/node_modules/.installed
  fi
fi

if [ ! -x .venv-checkov/bin/python ]; then "$PYTHON" -m venv .venv-checkov; fi
want=$(stamp requirements-checkov.txt)
if [ "$(cat .venv-checkov/.installed 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Checkov into ./.venv-checkov" >&2
  .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
  echo "$want" > .venv-checkov/.installed
fi
