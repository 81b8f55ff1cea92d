"""A real agent server on the platform: Aegra (images/aegra), driven by the official langgraph-sdk.

Run by tools/e2e-docker.sh after the reference app's checks, on the rendered `e2e-aegra` stack:

    venv/bin/python tools/e2e_aegra.py --compose out/e2e-aegra/docker-compose.yml --env-file ENV \
        --bumped out/e2e-aegra-bumped/docker-compose.yml [--keep]

Every check drives Aegra through the proxy with `langgraph_sdk.get_client` as a user's client would,
and judges it by what Aegra keeps in Postgres: a run's status, its thread's state and checkpoint
history. The graph (images/aegra/chain_graph.py) runs STEPS nodes that each sleep and append their
name to `visited`, one checkpoint per node, so a run that lost a step, ran one twice or was cut
short shows in its final state and its history. Faults: SIGKILL of the replica running a run,
docker stop mid-stream, Postgres and Redis restarted under load, and the platform's rolling update
to a new image (--bumped, the same stack rendered with the new image) under a steady load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_checks import RESULTS, Stack, _when, all_healthy, up_and_check  # noqa: E402
from e2e_checks import check as every_check  # noqa: E402
from langgraph_sdk import get_client  # noqa: E402

GRAPH = "chain"
STEPS = [f"step_{i}" for i in range(1, 7)]  # images/aegra/chain_graph.py STEPS


class AegraStack(Stack):
    def __init__(self, compose_file: Path, env_file: Path) -> None:
        super().__init__(compose_file, env_file)
        self.replicas = [s for s in self.serving if s.startswith("aegra-")]
        self.url = f"http://{self.host}:{self.port}"
        self.pg_user = self.doc["services"]["postgres"]["environment"]["POSTGRES_USER"]
        self.pg_db = self.doc["services"]["postgres"]["environment"]["POSTGRES_DB"]

    def client(self):
        return get_client(url=self.url, timeout=(5, 300, 300, 5))

    def sql(self, query: str, timeout: float = 60) -> str:
        """A query in Postgres' own container, over its socket (retried while it starts up)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.docker(
                "exec", self.container("postgres"), "psql", "-U", self.pg_user, "-d", self.pg_db, "-Atc", query
            )
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert result.returncode == 0, result.stderr.strip()
        return result.stdout.strip()

    def replica_of(self, claimed_by: str) -> str:
        """The replica whose host name (its container's short id, no dashes) starts Aegra's worker
        id `<hostname>-<pid>-worker-<n>` (aegra_api/services/worker_executor.py)."""
        for service in self.replicas:
            if claimed_by and self.container(service).startswith(claimed_by.split("-", 1)[0]):
                return service
        raise AssertionError(f"no replica runs worker {claimed_by!r}")

    def wait_healthy(self, timeout: float = 180) -> None:
        states = self.healthy(self.serving, timeout)
        assert all(v == "healthy" for v in states.values()), f"not healthy again: {states}"


def run(coro):
    return asyncio.run(coro)


async def finished(client, thread_id: str, run_id: str, timeout: float = 240) -> dict:
    """Wait for a run's end by polling (not join: a join held open on a replica that is stopped
    would be cut with it) and return the run."""
    deadline = time.monotonic() + timeout
    while True:
        r = await client.runs.get(thread_id, run_id)
        if r["status"] in ("success", "error", "interrupted", "timeout") or time.monotonic() > deadline:
            return r
        await asyncio.sleep(0.5)


async def chain_intact(client, thread_id: str) -> str:
    """The thread's final state has every step once, in order, and its checkpoints form one
    chain: each checkpoint's parent is the one before it."""
    state = await client.threads.get_state(thread_id)
    visited = state["values"].get("visited")
    assert visited == STEPS, f"final state visited {visited}, expected {STEPS}"
    history = await client.threads.get_history(thread_id, limit=100)
    ids = [h["checkpoint"]["checkpoint_id"] for h in history]  # newest first
    parents = [(h.get("parent_checkpoint") or {}).get("checkpoint_id") for h in history]
    for i in range(len(history) - 1):
        assert parents[i] == ids[i + 1], f"checkpoint {ids[i]} has parent {parents[i]}, not {ids[i + 1]}: a gap"
    assert parents[-1] is None, f"the oldest checkpoint has a parent {parents[-1]} that is not in the history"
    return f"{len(history)} checkpoints in one chain"


def claimed(stack: AegraStack, run_id: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = stack.sql(f"select coalesce(claimed_by, '') from runs where run_id = '{run_id}'")
        if row:
            return row
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} was never claimed by a worker")


def steps_done(stack: AegraStack, thread_id: str) -> int:
    """Checkpoints committed for a thread (Postgres, LangGraph's `checkpoints` table)."""
    return int(stack.sql(f"select count(*) from checkpoints where thread_id = '{thread_id}'") or 0)


ONLY: list[str] = []  # --only: run the checks whose names contain one of these (failure proofs)


def check(name: str):
    if ONLY and not any(part in name for part in ONLY) and name != HEALTHY:
        return lambda fn: fn
    return every_check(name)


HEALTHY = "aegra: every container healthy"


RECEIVER_IMAGE = "agent-platform-e2e/otlp-receiver:1.0.0"  # images/otlp-receiver
RECEIVER_ALIAS = "otlp-receiver"  # the host of tracing.endpoint in Pulumi.e2e-aegra.yaml


class Receiver:
    """The OTLP receiver (images/otlp-receiver) on the stack's frontend network, the network the
    platform gives the app containers for their way out (tracing on Docker), hardened as every
    container of the stack is (components/agent_platform/docker/container.py): read-only root, a
    tmpfs of its own user, no capabilities, no-new-privileges, non-root, memory and CPU limits, a
    health check. It prints each span it receives as a JSON line (`docker logs`)."""

    def __init__(self, stack: AegraStack) -> None:
        self.stack = stack
        self.name = f"{stack.project}-otlp-receiver"
        self.network = stack.doc["networks"]["frontend"]["name"]

    def remove(self) -> None:
        self.stack.docker("rm", "-f", self.name)

    def start(self) -> str:
        self.remove()  # one an earlier run left
        started = self.stack.docker(
            "run", "-d", "--name", self.name, "--network", self.network, "--network-alias", RECEIVER_ALIAS,
            "--user", "65534:65534", "--read-only", "--tmpfs", "/tmp:rw,noexec,nosuid,size=16m,uid=65534,gid=65534",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--memory", "128m", "--cpus", "0.5",
            "--health-cmd", "python -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:4318/health')\"",
            "--health-interval", "2s", "--health-retries", "10", RECEIVER_IMAGE,
        )  # fmt: skip
        assert started.returncode == 0, started.stderr.strip()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            health = self.stack.docker("inspect", "-f", "{{.State.Health.Status}}", self.name).stdout.strip()
            if health == "healthy":
                return health
            time.sleep(1)
        raise AssertionError(f"{self.name} is {health}: {self.stack.docker('logs', self.name).stderr[-300:]}")

    def spans(self) -> list[dict]:
        out = self.stack.docker("logs", self.name).stdout
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def run_checks(stack: AegraStack, bumped: Path | None, receiver: Receiver) -> None:
    @check(HEALTHY)
    def _():
        return all_healthy(stack, stack.serving, tail=15)

    if not RESULTS[-1][1]:
        return

    @check("aegra: an OTLP receiver (opentelemetry-proto) runs hardened on the frontend network")
    def _():
        return f"{receiver.name} {receiver.start()} on {receiver.network} as {RECEIVER_ALIAS}"

    @check("aegra: a run's spans arrive at the OTLP receiver, with its service and run id")
    def _():
        async def go() -> str:
            c = stack.client()
            thread = await c.threads.create()
            r = await c.runs.create(thread["thread_id"], GRAPH, input={"sleep": 0.1})
            await c.runs.join(thread["thread_id"], r["run_id"])
            return r["run_id"]

        run_id = run(go())
        # Aegra's BatchSpanProcessor sends a batch every 5 s (the SDK's default schedule delay), so a
        # run's spans can arrive in more than one: wait until each step's is there (found by the
        # first full e2e, whose first batch held step_1 alone).
        deadline, mine, names = time.monotonic() + 60, [], []
        while [n for n in STEPS if n in names] != STEPS and time.monotonic() < deadline:
            time.sleep(2)
            # aegra_api/services/worker_executor.py set_trace_context: the run's metadata on every span,
            # as langfuse.trace.metadata.<key> (observability/span_enrichment.py).
            mine = [s for s in receiver.spans() if s["attributes"].get("langfuse.trace.metadata.run_id") == run_id]
            names = sorted({s["name"] for s in mine})
        assert mine, f"no span of run {run_id} within 60s; received {len(receiver.spans())} span(s) in all"
        services = {s["service"] for s in mine}
        assert services == {"aegra"}, f"service.name of the run's spans: {services} (OTEL_SERVICE_NAME is aegra)"
        traces = {s["trace_id"] for s in mine}
        assert [n for n in STEPS if n in names] == STEPS, f"the run's spans name {names} after 60s: a step is missing"
        return f"run {run_id[:8]}: {len(mine)} spans in {len(traces)} trace(s) from service aegra, each step among them"

    @check("aegra: `aegra db upgrade` ran once as the platform's migration, before any replica started")
    def _():
        (migration,) = stack.migrations
        state = stack.state(migration)
        assert state["Status"] == "exited" and state["ExitCode"] == 0, f"{migration}: {state}"
        version = stack.sql("select version_num from alembic_version")
        assert version, "alembic_version is empty: the schema was not migrated"

        finished_at = _when(state["FinishedAt"])
        for replica in stack.replicas:
            started = _when(stack.state(replica)["StartedAt"])
            assert started >= finished_at, f"{replica} started {started} before {migration} finished {finished_at}"
        return f"alembic head {version}; {len(stack.replicas)} replicas started after it"

    @check("aegra: langgraph-sdk through the proxy: assistant, thread, streamed run, state read back")
    def _():
        async def go() -> str:
            c = stack.client()
            assistants = await c.assistants.search(graph_id=GRAPH)
            assert assistants, f"no assistant for graph {GRAPH!r}"
            thread = await c.threads.create()
            started, arrivals, last = time.monotonic(), [], None
            async for part in c.runs.stream(
                thread["thread_id"],
                GRAPH,
                input={"sleep": 0.5},
                stream_mode="updates",
                on_disconnect="continue",
                stream_resumable=True,
            ):
                if part.event == "updates":
                    arrivals.append(time.monotonic() - started)
                last = part
            assert len(arrivals) == len(STEPS), f"{len(arrivals)} updates for {len(STEPS)} steps (last {last})"
            assert arrivals[-1] - arrivals[0] >= 2.0, f"updates arrived together ({arrivals}): buffered"
            chain = await chain_intact(c, thread["thread_id"])
            return (
                f"assistant {assistants[0]['assistant_id'][:8]}; {len(arrivals)} updates streamed from "
                f"{arrivals[0]:.2f}s to {arrivals[-1]:.2f}s; {chain}"
            )

        return run(go())

    @check("aegra: a background run joins with every step, read back as state and history")
    def _():
        async def go() -> str:
            c = stack.client()
            thread = await c.threads.create()
            r = await c.runs.create(thread["thread_id"], GRAPH, input={"sleep": 0.2})
            values = await c.runs.join(thread["thread_id"], r["run_id"])
            assert values.get("visited") == STEPS, f"join returned {values}"
            status = (await c.runs.get(thread["thread_id"], r["run_id"]))["status"]
            assert status == "success", status
            return f"run {r['run_id'][:8]} {status}; " + await chain_intact(c, thread["thread_id"])

        return run(go())

    @check("aegra: SIGKILL of the replica running a background run: it finishes on the other, no step lost")
    def _():
        async def go() -> str:
            c = stack.client()
            thread = await c.threads.create()
            r = await c.runs.create(thread["thread_id"], GRAPH, input={"sleep": 1.5})
            worker = claimed(stack, r["run_id"])
            victim = stack.replica_of(worker)
            deadline = time.monotonic() + 30
            while steps_done(stack, thread["thread_id"]) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            before = steps_done(stack, thread["thread_id"])
            stack.docker("kill", "--signal", "KILL", stack.container(victim), check=True)
            killed_at = time.monotonic()
            now = ""  # the worker that reclaims it once the lease has expired
            while not now and time.monotonic() - killed_at < 120:
                row = stack.sql(f"select coalesce(claimed_by, ''), status from runs where run_id = '{r['run_id']}'")
                claimant, status = row.split("|")
                if claimant and claimant != worker:
                    now = claimant
                elif status in ("success", "error"):
                    break
                await asyncio.sleep(0.3)
            done = await finished(c, thread["thread_id"], r["run_id"])
            took = time.monotonic() - killed_at
            assert done["status"] == "success", f"run ended {done['status']} after {victim} was killed"
            assert now and stack.replica_of(now) != victim, f"reclaimed by {now!r}, not by another replica"
            chain = await chain_intact(c, thread["thread_id"])
            stack.compose("start", victim)
            stack.wait_healthy()
            return (
                f"{victim} killed after {before} checkpoints; the run was reclaimed and finished in {took:.1f}s "
                f"(worker {worker} -> {now}); {chain}; {victim} started again"
            )

        return run(go())

    @check("aegra: docker stop of the replica running a streamed run: the stream completes")
    def _():
        async def go() -> str:
            c = stack.client()
            thread = await c.threads.create()
            stopper: dict = {}
            updates, last_values, run_id = [], None, ""

            def stop(run_id: str) -> None:
                victim = stack.replica_of(claimed(stack, run_id))
                stopper["victim"] = victim

                def timed() -> None:
                    t = time.monotonic()
                    stack.docker("stop", stack.container(victim), timeout=120)
                    stopper["took"] = time.monotonic() - t

                stopper["task"] = asyncio.get_running_loop().run_in_executor(None, timed)

            streamed = time.monotonic()
            async for part in c.runs.stream(
                thread["thread_id"],
                GRAPH,
                input={"sleep": 1.0},
                stream_mode=["updates", "values"],
                on_disconnect="continue",
                stream_resumable=True,  # reconnects resume from the last event id (langgraph-sdk sends it only then)
            ):
                if part.event == "metadata":
                    run_id = part.data["run_id"]  # Aegra's first event names the run
                if part.event == "updates":
                    updates.append(part.data)
                    if len(updates) == 1:
                        stop(run_id)
                if part.event == "values":
                    last_values = part.data
            streamed = time.monotonic() - streamed
            await stopper["task"]
            exit_code = stack.state(stopper["victim"])["ExitCode"]
            # It drained and exited by itself within its grace period: 137 is Docker's SIGKILL at the end of it.
            assert exit_code != 137, (
                f"{stopper['victim']} was killed at the end of its grace period ({stopper['took']:.0f}s): "
                "it did not drain"
            )
            assert (last_values or {}).get("visited") == STEPS, f"the stream ended with {last_values}"
            chain = await chain_intact(c, thread["thread_id"])
            stack.compose("start", stopper["victim"])
            stack.wait_healthy()
            return (
                f"{stopper['victim']} stopped after the first step, drained and exited {exit_code} in "
                f"{stopper['took']:.1f}s; the stream ended after {streamed:.1f}s with all {len(STEPS)} steps "
                f"({len(updates)} updates seen); "
                f"{chain}"
            )

        return run(go())

    def load_runs(count: int, sleep: float, during) -> tuple[list[dict], str]:
        """`count` background runs on their own threads, `during()` called once they are all
        queued; every run waited for to its end."""

        async def go():
            c = stack.client()
            threads = [await c.threads.create() for _ in range(count)]
            runs = [await c.runs.create(t["thread_id"], GRAPH, input={"sleep": sleep}) for t in threads]
            note = await asyncio.get_running_loop().run_in_executor(None, during)
            pairs = zip(threads, runs, strict=True)
            ends = [await finished(c, t["thread_id"], r["run_id"], timeout=300) for t, r in pairs]
            bad = [(r["run_id"][:8], r["status"]) for r in ends if r["status"] != "success"]
            assert not bad, f"{len(bad)} of {count} runs did not succeed: {bad}"
            for t in threads:
                await chain_intact(c, t["thread_id"])
            return ends, note

        return run(go())

    @check("aegra: Postgres restarted under load: every run completes, no checkpoint lost")
    def _():
        def restart() -> str:
            time.sleep(2)
            running = stack.sql("select count(*) from runs where status = 'running'")
            before = int(stack.sql("select count(*) from checkpoints"))
            stack.compose("restart", "postgres", timeout=120)
            after = int(stack.sql("select count(*) from checkpoints"))
            assert after >= before, f"{before} checkpoints before the restart, {after} after"
            return f"{running} running and {before} checkpoints committed when it restarted, all there after"

        ends, note = load_runs(8, 1.0, restart)
        return f"{len(ends)} runs succeeded with every step; {note}"

    @check("aegra: Redis restarted with runs queued in it: every queued run still runs")
    def _():
        def restart() -> str:
            # More runs than the replicas' workers take at once (Pulumi.e2e-aegra.yaml WORKER_COUNT x
            # N_JOBS_PER_WORKER per replica): the rest wait in Redis' queue when it restarts.
            queued = int(stack.sql("select count(*) from runs where status = 'pending'"))
            running = int(stack.sql("select count(*) from runs where status = 'running'"))
            assert queued > 0, f"no run was queued when Redis restarted ({running} running): the check proves nothing"
            stack.compose("restart", "redis", timeout=120)
            return f"{queued} queued and {running} running when Redis restarted"

        ends, note = load_runs(30, 0.5, restart)
        return f"{len(ends)} runs succeeded with every step; {note}"

    if bumped is not None:

        @check("aegra: rolling update to a new image under streamed load: 0 failed requests, 0 lost runs")
        def _():
            return rolling_update(stack, bumped)


def rolling_update(stack: AegraStack, bumped: Path) -> str:
    """A steady load of streamed runs through the proxy while tools/rolling-update-docker.sh
    replaces the replicas with the bumped image one at a time (tools/rolling_update_docker.py)."""
    import subprocess
    import threading

    stop = threading.Event()
    outcome = {"runs": 0, "failed": [], "incomplete": []}

    async def one(c) -> None:
        thread = await c.threads.create()
        values = None
        async for part in c.runs.stream(
            thread["thread_id"],
            GRAPH,
            input={"sleep": 0.3},
            stream_mode="values",
            on_disconnect="continue",
            stream_resumable=True,
        ):
            if part.event == "values":
                values = part.data
            if part.event == "error":
                raise RuntimeError(f"error event: {part.data}")
        if (values or {}).get("visited") != STEPS:
            outcome["incomplete"].append(thread["thread_id"])

    async def loop() -> None:
        c = stack.client()
        while not stop.is_set():
            try:
                await one(c)
            except Exception as error:  # noqa: BLE001 - every failure is counted and shown
                outcome["failed"].append(f"{type(error).__name__}: {error}"[:200])
            outcome["runs"] += 1

    async def load(workers: int) -> None:
        await asyncio.gather(*(loop() for _ in range(workers)))

    loader = threading.Thread(target=lambda: asyncio.run(load(4)))
    loader.start()
    time.sleep(5)
    images_before = {r: stack.docker("inspect", "-f", "{{.Image}}", stack.container(r)).stdout for r in stack.replicas}
    frontend = stack.doc["networks"]["frontend"]["name"]
    address = f'{{{{(index .NetworkSettings.Networks "{frontend}").IPAddress}}}}'
    addresses_before = [
        stack.docker("inspect", "-f", address, stack.container(r)).stdout.strip() for r in stack.replicas
    ]
    since = stack.docker("exec", stack.container("proxy"), "date", "-u", "+%Y-%m-%dT%H:%M:%SZ").stdout.strip()
    started = time.monotonic()
    update = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve().parent / "rolling_update_docker.py"),
            "--compose",
            str(bumped),
            "--env-file",
            str(stack.env),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    took = time.monotonic() - started
    time.sleep(5)
    stop.set()
    loader.join(timeout=300)
    assert update.returncode == 0, f"the rolling update failed: {update.stdout[-400:]} {update.stderr[-400:]}"
    bumped_stack = AegraStack(bumped, stack.env)
    images_after = {
        r: stack.docker("inspect", "-f", "{{.Image}}", bumped_stack.container(r)).stdout for r in stack.replicas
    }
    addresses_after = [
        stack.docker("inspect", "-f", address, bumped_stack.container(r)).stdout.strip() for r in stack.replicas
    ]
    unchanged = [r for r in stack.replicas if images_after[r] == images_before[r]]
    assert not unchanged, f"still on the old image: {unchanged}"
    # What the proxy answered, whatever the client retried: langgraph-sdk retries and reconnects,
    # so a client that saw no error does not prove the proxy never failed a request.
    logs = stack.docker("logs", "--since", since, stack.container("proxy"))
    statuses = [int(m.group(1)) for m in re.finditer(r'" (\d{3}) ', logs.stdout)]
    failed = [code for code in statuses if code >= 500]
    assert statuses, "the proxy logged no request during the update"
    why = sorted({m.group(1) for m in re.finditer(r"\[error\] [^*]*\*\d+ ([^,(]+)", logs.stderr)})
    assert not failed, (
        f"the proxy answered {len(failed)} of {len(statuses)} requests with 5xx: {sorted(set(failed))}; nginx: {why}"
    )
    assert outcome["runs"] > 0, "no run went through during the update"
    assert not outcome["failed"], f"{len(outcome['failed'])} of {outcome['runs']} failed: {outcome['failed'][:3]}"
    assert not outcome["incomplete"], f"{len(outcome['incomplete'])} runs ended without every step"
    return (
        f"{len(stack.replicas)} replicas replaced in {took:.0f}s under 4 streaming clients: {outcome['runs']} "
        f"streamed runs, 0 failed, 0 incomplete; the proxy answered all {len(statuses)} requests below 500; "
        f"frontend addresses {', '.join(addresses_before)} -> {', '.join(addresses_after)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compose", type=Path, required=True)
    parser.add_argument("--env-file", type=Path, required=True)
    parser.add_argument("--bumped", type=Path, help="the same stack rendered with a new image")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--only", action="append", default=[], help="run only checks whose names contain this")
    args = parser.parse_args()
    ONLY.extend(args.only)
    stack = AegraStack(args.compose.resolve(), args.env_file.resolve())
    bumped = args.bumped.resolve() if args.bumped else None
    receiver = Receiver(stack)
    try:
        failed = up_and_check(stack, lambda: run_checks(stack, bumped, receiver), "aegra: ", up_timeout=900)
    finally:
        if not args.keep:
            receiver.remove()  # before the network it is on goes with the stack
    if not args.keep:
        stack.compose("down", "--volumes", "--remove-orphans", check=False, timeout=300)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
