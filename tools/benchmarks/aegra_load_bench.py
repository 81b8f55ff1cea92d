"""Load on a real agent server (Aegra, the `e2e-aegra` stack) through the platform's proxy, against
the same load sent straight to one replica, and the same load during a rolling update. A
benchmark: it prints figures, it asserts none.

    bash tools/e2e-docker.sh --keep      # builds the images; leaves the engine running
    venv/bin/python tools/benchmarks/aegra_load_bench.py \
        --compose /var/tmp/agent-platform-e2e/render-aegra/docker-compose.yml \
        --env-file /var/tmp/agent-platform-e2e/compose-aegra.env \
        --bumped /var/tmp/agent-platform-e2e/render-aegra-bumped/docker-compose.yml [--clients 10,50,200]

Each client is one langgraph-sdk client streaming one run of the `chain` graph (6 nodes of
--sleep seconds each, a new thread per run) with stream_mode `updates`. Per level of N concurrent
clients, through the proxy and then direct to one replica (its address on the frontend network,
which the host routes to): errors, time to first event (the run's metadata: the request reached
Aegra and the run was queued) and to the first update (a worker ran the first node), p50 and p99,
events per second over the wall time, and the proxy's ratio to direct. Direct bypasses nginx for
the stream only: runs execute on any replica's workers either way (Aegra queues them in Redis),
so the ratio is what the proxy adds. Then the same N during tools/rolling_update_docker.py to the
bumped rendering (and back, so the stack ends where it began).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from e2e_aegra import GRAPH, AegraStack  # noqa: E402
from langgraph_sdk import get_client  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def one(url: str, sleep: float) -> dict:
    c = get_client(url=url, timeout=(10, 600, 600, 10))
    started = time.monotonic()
    first = first_update = None
    events = 0
    try:
        thread = await c.threads.create()
        async for part in c.runs.stream(
            thread["thread_id"],
            GRAPH,
            input={"sleep": sleep},
            stream_mode="updates",
            on_disconnect="continue",
            stream_resumable=True,
        ):
            now = time.monotonic() - started
            events += 1
            first = first if first is not None else now
            if part.event == "updates" and first_update is None:
                first_update = now
            if part.event == "error":
                return {"error": f"error event {part.data}"[:160], "events": events}
        if first_update is None:
            return {"error": "no update", "events": events}
        return {"first": first, "first_update": first_update, "events": events}
    except Exception as error:  # noqa: BLE001 - counted and shown
        return {"error": f"{type(error).__name__}: {error}"[:160], "events": events}
    finally:
        await c.aclose()


async def level(url: str, clients: int, sleep: float) -> dict:
    started = time.monotonic()
    results = await asyncio.gather(*(one(url, sleep) for _ in range(clients)))
    wall = time.monotonic() - started
    ok = [r for r in results if "error" not in r]
    return {
        "clients": clients,
        "errors": [r["error"] for r in results if "error" in r],
        "first": [r["first"] for r in ok],
        "first_update": [r["first_update"] for r in ok],
        "events_per_s": sum(r["events"] for r in results) / wall,
        "wall": wall,
    }


def line(label: str, r: dict) -> str:
    return (
        f"{label:<26} {r['clients']:>5} {len(r['errors']):>6} "
        f"{pct(r['first'], 50) * 1000:>9.0f} {pct(r['first'], 99) * 1000:>9.0f} "
        f"{pct(r['first_update'], 50) * 1000:>9.0f} {pct(r['first_update'], 99) * 1000:>9.0f} "
        f"{r['events_per_s']:>9.1f} {r['wall']:>7.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compose", type=Path, required=True)
    parser.add_argument("--env-file", type=Path, required=True)
    parser.add_argument("--bumped", type=Path, help="the same stack with a new image: measure during the update")
    parser.add_argument("--clients", default="10,50,200", help="concurrency levels, comma-separated")
    parser.add_argument("--sleep", type=float, default=0.2, help="seconds each of the graph's 6 nodes sleeps")
    args = parser.parse_args()
    levels = [int(n) for n in args.clients.split(",")]

    stack = AegraStack(args.compose.resolve(), args.env_file.resolve())
    print("bringing the e2e-aegra stack up ...", flush=True)
    stack.compose("up", "-d", "--wait", timeout=900)
    replica = stack.replicas[0]
    network = stack.doc["networks"]["frontend"]["name"]
    address = stack.docker(
        "inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}', stack.container(replica)
    ).stdout.strip()
    port = stack.doc["services"][replica]["environment"]["PORT"]
    direct, proxy = f"http://{address}:{port}", stack.url
    asyncio.run(level(proxy, 4, args.sleep))  # warm-up: pools, imports, the graph's first compile

    header = f"{'':<26} {'N':>5} {'errors':>6} {'TTFE p50':>9} {'TTFE p99':>9} {'TTFU p50':>9} {'TTFU p99':>9}"
    print(f"\n{header} {'events/s':>9} {'wall s':>7}   (ms; TTFE: first event, TTFU: first update)")
    rows = {}
    for n in levels:
        for label, url in (("through the proxy", proxy), (f"direct to {replica}", direct)):
            rows[(label, n)] = r = asyncio.run(level(url, n, args.sleep))
            print(line(label, r), flush=True)
        p, d = rows[("through the proxy", n)], rows[(f"direct to {replica}", n)]
        ratio = pct(p["first"], 50) / pct(d["first"], 50) if d["first"] and p["first"] else float("nan")
        print(
            f"{'  proxy / direct':<26} {n:>5}        TTFE p50 x{ratio:.2f}, "
            f"events/s x{p['events_per_s'] / d['events_per_s']:.2f}"
        )

    if args.bumped:
        for target in (args.bumped.resolve(), args.compose.resolve()):
            n = levels[min(1, len(levels) - 1)]
            box: dict = {}

            def update(target=target, box=box) -> None:
                t = time.monotonic()
                box["result"] = subprocess.run(
                    [
                        sys.executable,
                        str(ROOT / "tools" / "rolling_update_docker.py"),
                        "--compose",
                        str(target),
                        "--env-file",
                        str(args.env_file),
                    ],
                    capture_output=True,
                    text=True,
                )
                box["took"] = time.monotonic() - t

            async def during(n=n, box=box, update=update) -> dict:
                worker = threading.Thread(target=update)
                worker.start()
                results = []
                while worker.is_alive():  # waves of N clients until the update is done
                    results.append(await level(proxy, n, args.sleep))
                worker.join()
                merged = {
                    "clients": n * len(results),
                    "errors": [e for r in results for e in r["errors"]],
                    "first": [x for r in results for x in r["first"]],
                    "first_update": [x for r in results for x in r["first_update"]],
                    "wall": sum(r["wall"] for r in results),
                }
                merged["events_per_s"] = sum(r["events_per_s"] * r["wall"] for r in results) / merged["wall"]
                return merged

            r = asyncio.run(during())
            print(line(f"during update to {target.parent.name}", r))
            print(f"{'':<26} rolling update exit {box['result'].returncode} in {box['took']:.0f}s")
            if r["errors"]:
                print("  errors: " + "; ".join(sorted(set(r["errors"]))[:3]))
    env = stack.doc["services"][replica]["environment"]
    print(
        f"\nwhere: {len(stack.replicas)} replicas of {env.get('WORKER_COUNT', 3)} workers x "
        f"{env.get('N_JOBS_PER_WORKER', 10)} runs each, Postgres and Redis, on one Docker host; "
        "TTFE/TTFU from the client's first request"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
