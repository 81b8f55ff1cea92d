"""Scale benchmark: the whole preview, the policy pack and the render at 10, 30, 100 and 300 agent services.

    venv/bin/python tools/benchmarks/scale_bench.py            # 10, 30, 100 and 300 services (~10 min)
    venv/bin/python tools/benchmarks/scale_bench.py --quick    # 5 and 20 services (~30 s)

The fitted exponent is the least-squares slope of log(wall time) over log(services) across the sizes:
1.0 is linear, 2.0 quadratic. The pack, Checkov and cdk8s are compared at 100 services (the largest
size below it with --quick).

Every figure is whole-process wall time on this machine, with a progress line per step; the
machine's load average before and after is printed, since on shared cores wall time is what others
leave: each preview runs --repeat times and the fastest run is kept (the one others disturbed least),
with the CPU seconds of its process tree beside it:
- the shipped prod stack's preview (the fastest of --repeat runs, and their median);
- the preview CLI (`python -m preview prod --config-file <generated>`: two program runs, render,
  validation, the pack over both engine phases), its cost per manifest at each size (flat
  when the ratio between sizes is near 1), the CPU seconds and the peak memory of its process tree
  (the CLI, its worker and both pack processes, sampled);
- the policy pack over the up phase of the largest stack (started as the CLI starts it, then
  Configure, Analyze per resource, AnalyzeStack) beside Checkov on the same manifests;
- the render (program run + manifests) beside cdk8s synthesizing the same objects
  (tools/benchmarks/cdk8s, pinned; installed with npm on first use).
Baselines run here, in this process: the same pack without its SDK fast paths (a copy of the
pack whose sdk_memo changes nothing: the pulumi-policy SDK's own per-policy loop and conversions), and the
SDK floor (the same number of bare resources registered under the same mocks). Last, the targets set
for the preview's cost at scale, each met or MISSED.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from preview_bench import floor, generated_stack  # noqa: E402

from policies.sdk_memo import baseline_copy  # noqa: E402
from preview.capture import capture_stack  # noqa: E402
from preview.policy import analyze, engine_document  # noqa: E402
from preview.render import manifests  # noqa: E402

PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
# The preview's cost at scale, on 2 cores: the targets it is held to.
TARGETS = {
    "whole preview, 100 services (s)": ("<=", 8.0),
    "whole preview, 100 services vs cdk8s (x)": ("<=", 20.0),
    "pack vs Checkov, same manifests (x faster)": (">=", 3.0),
    "prod preview, fastest run (s)": ("<=", 2.0),
    "fitted exponent, whole preview": ("<=", 1.1),
}


def progress(step: str) -> None:
    print(f"... {step}", file=sys.stderr, flush=True)


def tree(root_pid: int) -> dict[int, tuple[float, float]]:
    """pid -> (resident MiB, CPU seconds so far) of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    found: dict[int, tuple[float, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry))
        rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        found[int(entry)] = (rss / 1024, (int(stat[11]) + int(stat[12])) / CLOCK_TICKS)
    result, stack = {}, [root_pid]
    while stack:
        pid = stack.pop()
        if pid in found:
            result[pid] = found[pid]
        stack += children.get(pid, [])
    return result


def measured(cmd: list[str], stdin: str | None = None, **kwargs) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, peak tree RSS MiB, result) of a command, sampled every 50 ms; the CPU seconds of its
    process tree (each process's last sample) in the result's `cpu` attribute."""
    peak = 0.0
    cpu: dict[int, float] = {}
    started = time.perf_counter()
    process = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE if stdin is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            now = tree(process.pid)
            peak = max(peak, sum(rss for rss, _ in now.values()))
            cpu.update({pid: seconds for pid, (_, seconds) in now.items()})
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate(input=stdin)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    result = subprocess.CompletedProcess(cmd, process.returncode, stdout, stderr)
    result.cpu = sum(cpu.values())  # type: ignore[attr-defined]
    return seconds, peak, result


def preview_cli(config: Path | None, out: Path) -> tuple[float, float, float, dict]:
    """(wall seconds, peak tree MiB, tree CPU seconds, JSON report) of `python -m preview prod`."""
    cmd = [PYTHON, "-m", "preview", "prod", "--out", str(out), "--format", "json"]
    seconds, peak, result = measured(cmd + (["--config-file", str(config)] if config else []), cwd=ROOT)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-40:])  # a bug's traceback, whole
        raise SystemExit(f"preview failed for {config or 'prod'} (exit {result.returncode}):\n{tail}")
    return seconds, peak, result.cpu, json.loads(result.stdout)  # type: ignore[attr-defined]


def unmemoized_pack(tmp: Path) -> Path:
    """A copy of the pack without its SDK fast paths: the SDK's own conversions and loop, once per policy."""
    return baseline_copy(ROOT / "policies", tmp / "unmemoized").parent


def cdk8s_seconds(objects: list[dict]) -> tuple[float, float]:
    """(whole-process seconds, seconds cdk8s itself reports for construction + synthYaml)."""
    if not (HERE / "cdk8s" / "node_modules" / "cdk8s").is_dir():
        progress("installing cdk8s (tools/benchmarks/cdk8s, npm ci)")
        subprocess.run(
            ["npm", "ci", "--prefix", str(HERE / "cdk8s"), "--no-audit", "--no-fund", "--silent"], check=True
        )
    seconds, _, result = measured(["node", str(HERE / "cdk8s" / "synth.mjs")], stdin=json.dumps(objects))
    if result.returncode != 0:
        raise SystemExit(f"cdk8s failed: {result.stderr.strip().splitlines()[-1:]}")
    return seconds, json.loads(result.stdout)["seconds"]


def row(label: str, *cells: str) -> str:
    return f"{label:<46} " + " ".join(f"{c:>12}" for c in cells)


def exponent(sizes: list[int], results: dict[int, dict], key: str) -> float:
    """Least-squares slope of log(results[n][key]) over log(n)."""
    xs = [math.log(n) for n in sizes]
    ys = [math.log(max(results[n][key], 1e-6)) for n in sizes]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 and 20 services instead of 10, 30, 100 and 300")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each preview, the fastest kept (default 3; 300 services: 1)"
    )
    args = parser.parse_args()
    sizes = [5, 20] if args.quick else [10, 30, 100, 300]
    results: dict[int, dict] = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        progress(f"the shipped prod stack, {args.repeat} times")
        prod_runs = sorted(preview_cli(None, tmp / f"out-prod-{i}")[0] for i in range(args.repeat))
        for n in sizes:
            runs = 1 if n >= 300 else args.repeat
            progress(f"whole preview, {n} services (python -m preview prod, both engine phases), {runs} time(s)")
            config = generated_stack(tmp, n)
            # The fastest run: on shared cores, the one others disturbed least.
            seconds, peak, cpu, report = min(
                (preview_cli(config, tmp / f"out-{n}-{i}") for i in range(runs)), key=lambda run: run[0]
            )
            results[n] = {
                "seconds": seconds,
                "cpu": cpu,
                "peak": peak,
                "objects": report["objects"],
                "resources": report["resources"],
                "render": report["renderSeconds"],
                "validate": report["validateSeconds"],
                "policy": report["policy"]["seconds"],
            }
        big = 100 if 100 in sizes else sizes[-1]
        config = generated_stack(tmp, big)
        progress(f"program run of {big} services in this process (for the pack and the SDK floor)")
        _, capture = capture_stack(ROOT, "prod", config)
        up = [("up", engine_document(capture))]
        kube = manifests(capture)
        progress(f"policy pack, up phase, {len(kube)} manifests")
        pack_s = analyze(ROOT, "prod", up).seconds
        progress("the same pack without its SDK fast paths (baseline)")
        bare_pack_s = analyze(unmemoized_pack(tmp), "prod", up, ROOT / "policies" / "config" / "prod.json").seconds
        progress(f"Checkov on the same {len(kube)} manifests")
        manifest_dir = tmp / f"out-{big}-0" / "kubernetes"
        checkov_s, checkov_peak, checkov = measured(
            [str(CHECKOV), "-d", str(manifest_dir), "--framework", "kubernetes", "--quiet", "--compact", "-o", "json"]
        )
        if checkov.returncode not in (0, 1):
            raise SystemExit(f"checkov failed: {checkov.stderr.strip().splitlines()[-1:]}")
        progress(f"cdk8s synthesizing the same {len(kube)} objects")
        cdk8s_s, cdk8s_inner_s = cdk8s_seconds(
            [yaml.safe_load(p.read_text()) for p in sorted(manifest_dir.glob("*.yaml"))]
        )
        custom = len([r for r in capture.resources if r.custom])
        progress(f"SDK floor: {custom} bare resources under the same mocks")
        floor_s = floor(tmp, custom, 1)

    load_after = os.getloadavg()
    print(f"{os.cpu_count()} cores; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(row("case", "objects", "wall s", "ms/object", "CPU s", "peak MiB"))
    for n, r in results.items():
        print(
            row(
                f"whole preview, {n} services ({r['resources']} resources)",
                str(r["objects"]),
                f"{r['seconds']:.2f}",
                f"{1000 * r['seconds'] / r['objects']:.2f}",
                f"{r['cpu']:.2f}",
                f"{r['peak']:.0f}",
            )
        )
        print(
            row(
                "  of which render / validate / pack (after render)",
                "",
                f"{r['render']:.2f}",
                f"{r['validate']:.2f}",
                f"{r['policy']:.2f}",
            )
        )
    small, large, largest = results[sizes[0]], results[big], results[sizes[-1]]
    per_object = (largest["seconds"] / largest["objects"]) / (small["seconds"] / small["objects"])
    print(f"\nper-object cost, {sizes[-1]} vs {sizes[0]} services: x{per_object:.2f} (1.00 is flat)")
    for stage in ("seconds", "cpu", "render", "validate", "policy"):
        name = {"seconds": "whole preview", "cpu": "whole preview, CPU"}.get(stage, stage)
        print(f"fitted exponent, {name}: {exponent(sizes, results, stage):.2f}")
    print(
        f"prod preview (shipped stack), fastest of {len(prod_runs)}: {prod_runs[0]:.2f}s "
        f"(median {statistics.median(prod_runs):.2f}s)"
    )
    print(f"whole preview at {big} services vs cdk8s on its objects: x{large['seconds'] / cdk8s_s:.1f}")
    print(
        f"policy pack, up phase, {len(kube)} manifests: {pack_s:.2f}s; without its SDK fast paths {bare_pack_s:.2f}s "
        f"(x{bare_pack_s / pack_s:.1f}); Checkov {checkov_s:.2f}s, peak {checkov_peak:.0f} MiB "
        f"(pack x{checkov_s / pack_s:.1f} faster)"
    )
    print(
        f"render of {big} services: {large['render']:.2f}s; cdk8s on the same {len(kube)} objects {cdk8s_s:.2f}s "
        "whole-process "
        f"({cdk8s_inner_s:.2f}s synth; render x{large['render'] / cdk8s_s:.1f}); SDK floor for {custom} bare resources "
        f"{floor_s:.2f}s per program run (the preview runs the program twice)"
    )
    if not args.quick:
        got = {
            "whole preview, 100 services (s)": large["seconds"],
            "whole preview, 100 services vs cdk8s (x)": large["seconds"] / cdk8s_s,
            "pack vs Checkov, same manifests (x faster)": checkov_s / pack_s,
            "prod preview, fastest run (s)": prod_runs[0],
            "fitted exponent, whole preview": exponent(sizes, results, "seconds"),
        }
        print("\ntargets:")
        for name, (sense, target) in TARGETS.items():
            ok = got[name] <= target if sense == "<=" else got[name] >= target
            print(f"  {name:<44} {got[name]:>8.2f}  target {sense} {target:<5}  {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
