#!/usr/bin/env bash
# Point-in-time restore of the Docker stack's Postgres from its pgBackRest repository, however the
# stack runs (Compose, `pulumi up`, containers started by hand):
#
#   tools/restore-docker.sh --compose docker-compose.yml [--env-file compose.env] --to latest|<RFC 3339 time> [--no-start]
#
# latest: every commit the repository holds (the end of the archived WAL); a time such as
# 2026-12-03T10:15:00Z: every commit up to that moment and none after (a zone is required).
# What it does, step by step, and its environment variables: tools/restore_docker.py (stdlib
# Python, any python3) and docs/backups-docker.md.
set -euo pipefail
exec python3 "$(dirname "$0")/restore_docker.py" "$@"
