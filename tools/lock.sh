#!/usr/bin/env bash
# Re-lock the pinned requirements with the hashes of every distribution (pip-tools), after a
# change to any requirements/*.txt. The set-up installs only from the .lock files, with
# `--require-hashes`: a tampered or substituted package fails the install.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install --quiet --disable-pip-version-check pip-tools==7.6.2
for name in preview dev checkov; do
  echo "lock: requirements/$name.txt -> requirements/$name.lock" >&2
  "$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras --no-header \
    --output-file "requirements/$name.lock" "requirements/$name.txt"
done
