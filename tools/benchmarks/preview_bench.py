"""Benchmark the offline preview: rendering and validation, separately, with figures.

    venv/bin/python tools/benchmarks/preview_bench.py [--repeat 5] [--sizes 1 10 100]

For the shipped dev and prod stacks and generated stacks of 1, 10 and 100 agent
services it prints objects, median wall seconds, objects per second and peak
Python memory (tracemalloc, measured in a separate pass so it does not slow the
timed runs). Two baselines make the figures readable:
- floor: the same number of bare resources registered under the same mocks by a
  trivial program, so the cost of the components themselves is visible;
- naive validation: kubernetes_validate.validate() per object (it re-reads the
  schema files every call) against this project's cached validators.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from kubernetes_validate import utils as kv  # noqa: E402

from preview.capture import capture_stack  # noqa: E402
from preview.engine import run_program  # noqa: E402
from preview.render import manifests, render_files  # noqa: E402
from preview.validate import newest_version, validate_manifests  # noqa: E402

VERSIONS = ["1.29", newest_version()]
FLOOR_PROGRAM = """
import pulumi_kubernetes as k8s
for i in range({n}):
    k8s.core.v1.ConfigMap(f"cm-{{i}}", metadata={{"name": f"cm-{{i}}", "namespace": "bench"}}, data={{"k": "v"}})
"""


def generated_stack(tmp: Path, n: int) -> Path:
    """Pulumi.prod.yaml with n agent services (copies of agent-api)."""
    data = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    template = data["config"]["agent-platform:services"][0]
    services = []
    for i in range(n):
        svc = copy.deepcopy(template)
        svc["name"] = f"agent-{i:03d}"
        svc["ingress"] = {"paths": [f"/g{i}"]}
        services.append(svc)
    data["config"]["agent-platform:services"] = services
    # Each service's pool is a client of PgBouncer: its limit grows with them, so the stack stays valid.
    data["config"]["agent-platform:postgres"].setdefault("pooler", {})["maxClientConn"] = 200 * n + 1000
    path = tmp / f"Pulumi.prod-{n}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def peak_mib(fn) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def floor(tmp: Path, count: int, repeat: int) -> float:
    project = tmp / f"floor-{count}"
    project.mkdir(exist_ok=True)
    (project / "Pulumi.yaml").write_text("name: floor\nruntime: python\n")
    (project / "__main__.py").write_text(FLOOR_PROGRAM.format(n=count))
    seconds, _ = timed(lambda: run_program(project, "floor", "bench", {}, []), repeat)
    return seconds


def row(label: str, objects: int, seconds: float, mib: float | None, extra: str = "") -> str:
    rate = objects / seconds if seconds else float("inf")
    memory = f"{mib:>9.1f}" if mib is not None else f"{'-':>9}"
    return f"{label:<34} {objects:>7} {seconds:>9.3f} {rate:>10.0f} {memory}  {extra}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1, 10, 100])
    args = parser.parse_args()

    header = f"{'case':<34} {'objects':>7} {'median s':>9} {'objects/s':>10} {'peak MiB':>9}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        cases = [("dev", None), ("prod", None)] + [(f"prod, {n} services", generated_stack(tmp, n)) for n in args.sizes]
        for label, config_file in cases:
            stack = "dev" if label == "dev" else "prod"

            def render(stack=stack, config_file=config_file):
                _, capture = capture_stack(ROOT, stack, config_file)
                render_files(capture)
                return capture

            render_s, capture = timed(render, args.repeat)
            kube = manifests(capture)
            resources = len([r for r in capture.resources if r.custom])
            floor_s = floor(tmp, resources, args.repeat)
            print(
                row(
                    f"{label}: render",
                    resources,
                    render_s,
                    peak_mib(render),
                    f"floor {floor_s:.3f}s for {resources} bare resources (components x{render_s / floor_s:.2f})",
                )
            )

            def validate(kube=kube):
                return validate_manifests([(m.file, m.obj) for m in kube], VERSIONS)

            validate()  # build the validators once, as a preview run does on its first objects
            validate_s, findings = timed(validate, args.repeat)
            assert not findings, findings[:3]
            checks = len(kube) * len(VERSIONS)
            if label in ("prod", f"prod, {args.sizes[-1]} services"):
                naive_s, _ = timed(
                    lambda kube=kube: [kv.validate(m.obj, v, strict=True) for m in kube for v in VERSIONS], 1
                )
                extra = f"naive kubernetes_validate.validate(): {naive_s:.3f}s (x{naive_s / validate_s:.0f} slower)"
            else:
                extra = ""
            print(row(f"{label}: validate", checks, validate_s, peak_mib(validate), extra))
            total = render_s + validate_s
            print(
                row(
                    f"{label}: render + validate",
                    len(kube),
                    total,
                    None,
                    f"{1000 * total / len(kube):.1f} ms per manifest",
                )
            )


if __name__ == "__main__":
    main()
