#!/usr/bin/env bash
# Point-in-time restore of the Docker stack's Postgres from its pgBackRest repository.
#
#   tools/restore-docker.sh --compose docker-compose.yml --env-file compose.env --to latest|<RFC 3339 time>
#
# latest: every commit the repository holds (the end of the archived WAL); a time such as
# 2026-12-03T10:15:00Z: every commit up to that moment and none after (a zone is required).
#
# 1. stops the stack (`compose stop`: containers and volumes stay);
# 2. restores into a FRESH volume: the data volume's own name when it is gone (a lost disk),
#    else <data volume>-restore-<time>, leaving the current one untouched;
# 3. verifies: Postgres on the fresh volume replays the WAL to the target, promotes and answers a
#    query on the app database, with the stack's own settings (archiving on, so the new timeline
#    reaches the repository);
# 4. only then, when the data volume still exists: copies it to <data volume>-before-restore-<time>
#    (kept: remove it yourself once satisfied) and puts the restored data in its place;
# 5. starts the stack again (`compose up -d --wait`), unless --no-start.
# A failed restore or verification exits 1 and leaves the data volume as it was.
#
# COMPOSE names the Compose v2 command (default `docker compose`).
set -euo pipefail
usage() { echo "usage: $0 --compose FILE --env-file FILE --to latest|<RFC 3339 time with zone> [--no-start]" >&2; exit 2; }
COMPOSE_FILE="" ENV_FILE="" TARGET="" START=1 VERIFY_TIMEOUT=${VERIFY_TIMEOUT:-3600}
while [ $# -gt 0 ]; do
  case "$1" in
    --compose) COMPOSE_FILE=${2:-}; shift 2 ;;
    --env-file) ENV_FILE=${2:-}; shift 2 ;;
    --to) TARGET=${2:-}; shift 2 ;;
    --no-start) START=0; shift ;;
    *) usage ;;
  esac
done
[ -n "$COMPOSE_FILE" ] && [ -n "$ENV_FILE" ] && [ -n "$TARGET" ] || usage
read -r -a COMPOSE <<<"${COMPOSE:-docker compose}"
compose() { "${COMPOSE[@]}" -f "$COMPOSE_FILE" --env-file "$ENV_FILE" "$@"; }
say() { printf 'restore: %s\n' "$*" >&2; }

# pgBackRest's --target in UTC ("2026-12-03 10:15:00.000000+00"); the same check as
# postgres.restore.targetTime: RFC 3339 with a zone.
if [ "$TARGET" = latest ]; then
  RESTORE_ARGS=()
else
  PG_TARGET=$(python3 - "$TARGET" <<'PY'
import sys
from datetime import datetime, timezone
value = sys.argv[1]
try:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
except ValueError:
    sys.exit(f"restore: --to {value!r}: not latest or an RFC 3339 time such as 2026-12-03T10:15:00Z")
if moment.tzinfo is None:
    sys.exit(f"restore: --to {value!r}: needs a time zone (a trailing Z for UTC, or +01:00)")
print(moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00"))
PY
  )
  RESTORE_ARGS=(--type=time "--target=$PG_TARGET" --target-action=promote)
fi

# Everything else comes from the rendered stack itself: image, user, pgBackRest options, volumes.
CONFIG=$(compose config --format json)
eval "$(python3 - "$CONFIG" <<'PY'
import json, shlex, sys
doc = json.loads(sys.argv[1])
pg = doc["services"]["postgres"]
env = pg.get("environment") or {}
if "PGBACKREST_STANZA" not in env:
    sys.exit("restore: the stack's postgres has no pgBackRest settings: postgres.backup.enabled is off")
# A service mounts a volume by its key in the file; Docker knows it by its name.
names = {k: v.get("name", k) for k, v in (doc.get("volumes") or {}).items()}
keys = {m["target"]: m["source"] for m in pg.get("volumes") or []}
mounts = {target: names.get(key, key) for target, key in keys.items()}
data = mounts["/var/lib/postgresql/data"]
out = {
    "PROJECT": doc["name"],
    "IMAGE": pg["image"],
    "RUN_AS": pg.get("user") or "",
    "DATA_VOLUME": data,
    "DATA_KEY": keys["/var/lib/postgresql/data"],
    "REPO_VOLUME": mounts[env["PGBACKREST_REPO1_PATH"]],
    "SOCKET_VOLUME": mounts[env["PGBACKREST_PG1_SOCKET_PATH"]],
    "PGDATA": env["PGDATA"],
    "SOCKET": env["PGBACKREST_PG1_SOCKET_PATH"],
    "DB_USER": env["POSTGRES_USER"],
    "DB_NAME": env["POSTGRES_DB"],
}
for k, v in out.items():
    print(f"{k}={shlex.quote(v)}")
print("PG_OPTIONS=(" + " ".join(shlex.quote(w) for w in (pg.get("command") or ["postgres"])[1:]) + ")")
print("BACKREST_ENV=(" + " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(env.items()) if k.startswith("PGBACKREST_")) + ")")
PY
)"
ENV_ARGS=()
for kv in "${BACKREST_ENV[@]}"; do ENV_ARGS+=(-e "$kv"); done
# The hardening every container of the stack has (components/agent_platform/docker/container.py).
HARDENED=(--user "$RUN_AS" --read-only --cap-drop ALL --security-opt no-new-privileges:true --network none
  --tmpfs "/tmp:rw,noexec,nosuid,size=64m,uid=${RUN_AS%%:*},gid=${RUN_AS##*:}")
STAMP=$(date -u +%Y%m%dT%H%M%SZ)

say "stopping the stack ($PROJECT)"
compose stop >/dev/null 2>&1
if docker volume inspect "$DATA_VOLUME" >/dev/null 2>&1; then
  FRESH="$DATA_VOLUME-restore-$STAMP"
  say "$DATA_VOLUME exists: restoring into $FRESH, $DATA_VOLUME stays untouched until the restore is verified"
  docker volume create "$FRESH" >/dev/null
else
  FRESH="$DATA_VOLUME"
  say "$DATA_VOLUME is gone: restoring into a new $FRESH"
  docker volume create --label "com.docker.compose.project=$PROJECT" \
    --label "com.docker.compose.volume=$DATA_KEY" "$FRESH" >/dev/null
fi
started=$SECONDS
say "pgbackrest restore --to $TARGET"
docker run --rm "${HARDENED[@]}" "${ENV_ARGS[@]}" \
  -v "$FRESH:/var/lib/postgresql/data" -v "$REPO_VOLUME:/var/lib/pgbackrest:ro" -v "$SOCKET_VOLUME:$SOCKET" \
  "$IMAGE" sh -c 'mkdir -p "$PGBACKREST_PG1_PATH" && chmod 700 "$PGBACKREST_PG1_PATH" && exec pgbackrest restore "$@"' \
  sh "${RESTORE_ARGS[@]}" >&2 || { say "FAILED: pgbackrest restore; $DATA_VOLUME was not touched"; exit 1; }

VERIFY="$PROJECT-restore-verify-$STAMP"
say "verifying: Postgres on $FRESH replays the WAL to the target and promotes"
docker run -d --name "$VERIFY" "${HARDENED[@]}" "${ENV_ARGS[@]}" -e "PGDATA=$PGDATA" \
  -v "$FRESH:/var/lib/postgresql/data" -v "$REPO_VOLUME:/var/lib/pgbackrest" -v "$SOCKET_VOLUME:$SOCKET" \
  "$IMAGE" postgres "${PG_OPTIONS[@]}" >/dev/null
verified=""
deadline=$((SECONDS + VERIFY_TIMEOUT))
while [ $SECONDS -lt $deadline ]; do
  state=$(docker exec "$VERIFY" psql -h "$SOCKET" -U "$DB_USER" -d "$DB_NAME" -Atc 'SELECT pg_is_in_recovery()' 2>/dev/null || true)
  if [ "$state" = f ]; then verified=1; break; fi
  [ "$(docker inspect -f '{{.State.Running}}' "$VERIFY")" = true ] || break
  sleep 1
done
docker logs "$VERIFY" 2>&1 | grep -E 'recovery stopping|redo done|selected new timeline|last completed transaction' | sed 's/^/restore:   postgres: /' >&2 || true
if [ -n "$verified" ]; then
  docker exec "$VERIFY" psql -h "$SOCKET" -U "$DB_USER" -d "$DB_NAME" -Atc 'SELECT 1' >/dev/null || verified=""
fi
docker stop -t 120 "$VERIFY" >/dev/null; docker rm "$VERIFY" >/dev/null
if [ -z "$verified" ]; then
  say "FAILED: the restored database did not come up on $FRESH (kept for inspection); $DATA_VOLUME was not touched"
  exit 1
fi
say "verified in $((SECONDS - started))s: promoted and answering on database $DB_NAME"

if [ "$FRESH" != "$DATA_VOLUME" ]; then
  KEPT="$DATA_VOLUME-before-restore-$STAMP"
  copy() {  # from-volume to-volume: the target mounted where the image owns the path (UID of Postgres)
    docker run --rm "${HARDENED[@]}" -v "$1:/mnt/from:ro" -v "$2:/var/lib/postgresql/data" "$IMAGE" \
      sh -c 'find /var/lib/postgresql/data -mindepth 1 -delete && cp -a /mnt/from/. /var/lib/postgresql/data/'
  }
  docker volume create "$KEPT" >/dev/null
  copy "$DATA_VOLUME" "$KEPT"
  say "kept the data it replaces as $KEPT (remove it once satisfied: docker volume rm $KEPT)"
  copy "$FRESH" "$DATA_VOLUME"
  docker volume rm "$FRESH" >/dev/null
  say "restored data now in $DATA_VOLUME"
fi
if [ "$START" = 1 ]; then
  say "starting the stack"
  compose up -d --wait >/dev/null 2>&1 || { compose ps >&2; say "FAILED: the stack did not come up healthy"; exit 1; }
fi
say "done in $((SECONDS - started))s"
