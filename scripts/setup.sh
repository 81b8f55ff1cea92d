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

if [ ! -x .venv-checkov/bin/python ]; then "$PYTHON" -m venv .venv-checkov; fi
want=$(stamp requirements-checkov.txt)
if [ "$(cat .venv-checkov/.installed 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Checkov into ./.venv-checkov" >&2
  .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
  echo "$want" > .venv-checkov/.installed
fi
