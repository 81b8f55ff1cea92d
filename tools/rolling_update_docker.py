"""Apply a changed compose rendering to a running Docker stack one service at a time, as
`pulumi up` does on the Docker platform: what `pulumi up` would replace is replaced here in the
same order, and nothing else is touched.

    venv/bin/python tools/rolling_update_docker.py --compose out/<stack>/docker-compose.yml --env-file compose.env

The platform chains each replica of a service after the one before it (`depends_on` with
`service_healthy`, the compose form of the program's dependsOn), so services are taken in
dependency order: a changed one-shot (the backup before a migration, the migration) is run and
must exit 0 before anything after it; a changed serving container is recreated alone
(`up --no-deps --wait`: stopped with its grace period, so it drains, then started and waited for
until healthy) before the next one is touched. A replica being replaced is the only one down, and
the proxy, which resolves the service's name per request, sends new requests to the others.
Unchanged services (Compose's config hash) are left running. A failure stops the update where it
is, with one line naming the service and the command to see why; what was not reached keeps
running the old version.

A plain `docker compose up -d` would recreate every changed replica at once: an outage.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

COMPOSE = str(Path(sys.executable).parent / "docker-compose")
HASH_LABEL = "com.docker.compose.config-hash"


def order(services: dict) -> list[str]:
    """Services in dependency order (depends_on first), ties by name."""
    done: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in path:
            raise SystemExit(f"error: depends_on cycle through {' -> '.join((*path, name))}")
        for dep in sorted(services[name].get("depends_on") or {}):
            visit(dep, (*path, name))
        done.append(name)

    for name in sorted(services):
        visit(name, ())
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compose", type=Path, required=True, help="the new rendering's docker-compose.yml")
    parser.add_argument("--env-file", type=Path, required=True, help="its filled compose.env")
    parser.add_argument("--wait-timeout", type=int, default=600, help="seconds a container may take to turn healthy")
    args = parser.parse_args()
    for path in (args.compose, args.env_file):
        if not path.is_file():
            print(f"error: {path}: file not found", file=sys.stderr)
            return 2

    def compose(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [COMPOSE, "-f", str(args.compose), "--env-file", str(args.env_file), *argv], capture_output=True, text=True
        )

    config = compose("config", "--format", "json")
    if config.returncode != 0:
        print(f"error: {args.compose}: {config.stderr.strip()}", file=sys.stderr)
        return 2
    doc = json.loads(config.stdout)
    services = doc["services"]
    wanted = dict(line.split() for line in compose("config", "--hash", "*").stdout.splitlines() if line.strip())
    one_shots = {
        dep
        for svc in services.values()
        for dep, c in (svc.get("depends_on") or {}).items()
        if c.get("condition") == "service_completed_successfully"
    }
    started = time.monotonic()
    changed = 0
    for name in order(services):
        cid = compose("ps", "-a", "-q", name).stdout.strip()
        current = ""
        if cid:
            inspect = subprocess.run(
                ["docker", "inspect", "-f", f'{{{{index .Config.Labels "{HASH_LABEL}"}}}}', cid],
                capture_output=True,
                text=True,
            )
            current = inspect.stdout.strip()
        if current == wanted.get(name):
            continue
        changed += 1
        t = time.monotonic()
        if name in one_shots:
            result = compose("up", "-d", "--no-deps", name)
            if result.returncode == 0:
                cid = compose("ps", "-a", "-q", name).stdout.strip()
                code = subprocess.run(["docker", "wait", cid], capture_output=True, text=True).stdout.strip()
                if code != "0":
                    print(f"error: {name} exited with {code} (`docker logs {cid}`); nothing after it was touched")
                    return 1
        else:
            result = compose("up", "-d", "--no-deps", "--wait", "--wait-timeout", str(args.wait_timeout), name)
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()[-1:]
            print(f"error: {name}: {' '.join(lines)} (`docker compose logs {name}`); nothing after it was touched")
            return 1
        print(
            f"{name}: {'ran' if name in one_shots else 'replaced, healthy'} in {time.monotonic() - t:.1f}s", flush=True
        )
    print(f"{changed} service(s) changed, applied one at a time in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
