"""RPO and RTO of the Docker host's backups (pgBackRest, docs/backups-docker.md), measured on a
real Docker engine against a running `e2e` stack. A benchmark: it prints figures, it asserts none.

    bash tools/e2e-docker.sh --keep     # builds the images, leaves the e2e stack up
    venv/bin/python tools/benchmarks/backup_bench.py \
        --compose /var/tmp/agent-platform-e2e/render/docker-compose.yml \
        --env-file /var/tmp/agent-platform-e2e/compose.env [--size-mb 1024] [--load-seconds 25]

1. Fills a table with --size-mb of checkpoint-like rows (md5 text: compressible about as JSON
   checkpoints are) and takes a full base backup.
2. RPO: a steady write load (one autocommitted INSERT of clock_timestamp() every 50 ms, each
   acknowledged commit printed) for --load-seconds, then Postgres is killed (SIGKILL: its restart
   policy does not start it again) and its data directory removed from the volume: the data is lost
   at an instant no WAL switch prepared; the containers and the volume stay, as after a disk
   failure under the data directory. After the restore to latest, RPO = last acknowledged commit -
   last commit restored (archive_timeout is printed: the bound the design promises).
3. RTO: the wall time from `tools/restore-docker.sh --to latest` starting (it stops what is on the
   volume and what connects to Postgres, restores with pgBackRest, verifies in the stack's own
   Postgres, starts again what it stopped) until the app answers /readyz through the proxy, against
   the physical floor measured in the same run: `cp -a` of the restored data directory to another
   volume on the same disk, synced.

COMPOSE names the Compose v2 command (default: the venv's docker-compose), as for the restore tool;
e.g. COMPOSE="venv/bin/docker-compose -p my-bench" for a stack rendered under another project.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = os.environ.get("COMPOSE") or str(Path(sys.executable).parent / "docker-compose")


def run(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, **kwargs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compose", type=Path, required=True)
    parser.add_argument("--env-file", type=Path, required=True)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--load-seconds", type=float, default=25.0)
    args = parser.parse_args()

    def compose(*a: str, **kw) -> subprocess.CompletedProcess:
        return run(*shlex.split(COMPOSE), "-f", str(args.compose), "--env-file", str(args.env_file), *a, **kw)

    doc = json.loads(compose("config", "--format", "json").stdout)
    pg_env = doc["services"]["postgres"]["environment"]
    user, db = pg_env["POSTGRES_USER"], pg_env["POSTGRES_DB"]
    timeout = next(o.split("=")[1] for o in doc["services"]["postgres"]["command"] if o.startswith("archive_timeout"))
    data_volume = doc["volumes"]["postgres-data"]["name"]
    image = doc["services"]["postgres"]["image"]
    run_as = doc["services"]["postgres"]["user"]

    def container(service: str) -> str:
        return compose("ps", "-a", "-q", service).stdout.strip()

    def psql(sql: str) -> str:
        return run("docker", "exec", container("postgres"), "psql", "-h", "/var/run/postgresql", "-U", user, "-d", db,
                   "-v", "ON_ERROR_STOP=1", "-Atc", sql).stdout.strip()  # fmt: skip

    compose("up", "-d", "--wait", timeout=900)
    print(f"backup_bench: archive_timeout={timeout}s, database fill {args.size_mb} MB, load {args.load_seconds}s")
    started = time.monotonic()
    psql("DROP TABLE IF EXISTS bench_fill; CREATE TABLE bench_fill (id bigint, body text)")
    rows_per_mb = 1024 * 1024 // (32 * 30 + 40)
    for first in range(0, args.size_mb * rows_per_mb, 64 * rows_per_mb):
        last = min(first + 64 * rows_per_mb, args.size_mb * rows_per_mb)
        psql(f"INSERT INTO bench_fill SELECT i, repeat(md5(i::text), 30) FROM generate_series({first}, {last - 1}) i")
    size = int(psql(f"SELECT pg_database_size('{db}')"))
    print(f"filled: database {size / 2**20:.0f} MB in {time.monotonic() - started:.0f}s")
    started = time.monotonic()
    run("docker", "exec", container("postgres-backup"), "pgbackrest", "backup", "--type=full")
    print(f"full base backup: {time.monotonic() - started:.0f}s")

    psql("DROP TABLE IF EXISTS bench_rpo; CREATE TABLE bench_rpo (t timestamptz)")
    load = subprocess.Popen(
        [
            "docker",
            "exec",
            "-i",
            container("postgres"),
            "psql",
            "-h",
            "/var/run/postgresql",
            "-U",
            user,
            "-d",
            db,
            "-At",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    load.stdin.write("INSERT INTO bench_rpo VALUES (clock_timestamp()) RETURNING t \\watch 0.05\n")
    load.stdin.flush()
    time.sleep(args.load_seconds)
    run("docker", "kill", "-s", "KILL", container("postgres"))  # the data goes now
    # Each acknowledged INSERT prints its timestamp (RETURNING t), then its "INSERT 0 1" tag.
    acknowledged = [line for line in load.communicate(timeout=60)[0].splitlines() if line[:1].isdigit()]
    last_ack = datetime.fromisoformat(acknowledged[-1].strip())
    run("docker", "run", "--rm", "--user", run_as, "--network", "none", "-v", f"{data_volume}:/d", image,
        "rm", "-rf", "/d/pgdata")  # fmt: skip
    print(f"lost the data directory after {len(acknowledged)} acknowledged commits; last at {last_ack.isoformat()}")

    proxy = doc["services"]["proxy"]["ports"][0]
    host, port = proxy.get("host_ip") or "127.0.0.1", int(proxy["published"])

    def ready() -> bool:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("GET", "/readyz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    started = time.monotonic()
    restore = run(
        "bash", str(ROOT / "tools" / "restore-docker.sh"), "--compose", str(args.compose), "--env-file",
        str(args.env_file), "--to", "latest", check=False, env={**os.environ, "COMPOSE": COMPOSE}, timeout=3600,
    )  # fmt: skip
    tool = time.monotonic() - started
    if restore.returncode != 0:
        print(restore.stderr)
        return 1
    while not ready() and time.monotonic() - started < tool + 120:
        time.sleep(0.1)
    rto = time.monotonic() - started
    steps = next((line for line in restore.stderr.splitlines() if "restore: done in" in line), "")
    restored = datetime.fromisoformat(psql("SELECT max(t) FROM bench_rpo"))
    rpo = (last_ack - restored).total_seconds()
    lost = sum(1 for line in acknowledged if datetime.fromisoformat(line.strip()) > restored)

    # The physical floor: the same bytes copied on the same disk.
    data_bytes = int(run("docker", "run", "--rm", "--user", run_as, "-v", f"{data_volume}:/d:ro", image,
                         "du", "-sb", "/d/pgdata").stdout.split()[0])  # fmt: skip
    floor_volume = f"{data_volume}-bench-cp-floor-{os.getpid()}"
    run("docker", "volume", "create", floor_volume)
    try:
        started = time.monotonic()
        run("docker", "run", "--rm", "--user", "0", "-v", f"{data_volume}:/d:ro", "-v", f"{floor_volume}:/c", image,
            "sh", "-c", "cp -a /d/pgdata /c/ && sync")  # fmt: skip
        floor = time.monotonic() - started
    finally:
        run("docker", "volume", "rm", "-f", floor_volume, check=False)
    psql("DROP TABLE bench_fill; DROP TABLE bench_rpo")

    print()
    print(f"RPO: {rpo:.2f}s of commits lost ({lost} of {len(acknowledged)} "
          f"acknowledged commits) with archive_timeout={timeout}s under a steady load (20 commits/s)")  # fmt: skip
    breakdown = steps.split("(", 1)[-1].rstrip(")")
    print(f"RTO: {rto:.1f}s from tools/restore-docker.sh --to latest to the app serving through the proxy "
          f"(the tool {tool:.1f}s: {breakdown}), data directory {data_bytes / 2**20:.0f} MB")  # fmt: skip
    print(f"cp floor: {floor:.1f}s to cp -a the same {data_bytes / 2**20:.0f} MB on the same disk, synced")
    print(f"ratio RTO / cp floor: {rto / floor:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
