"""The pack as the Pulumi CLI runs it: started from a copy under another name, fed
wire-shaped unknowns, live-object outputs and malformed properties over the analyzer gRPC protocol.

Shapes: the CLI starts a Python pack as `python -u -m pulumi.policy ENGINE_ADDR PACKDIR` with cwd
PACKDIR (pulumi/pulumi sdk/go/common/resource/plugin/analyzer_plugin.go, and
sdk/python/lib/pulumi/policy/__main__.py which runpy-runs PACKDIR). pulumi_policy 1.21 never dials
ENGINE_ADDR (policy.py only serves), so the address of a closed local port stands in for it.
Unknowns travel as pulumi.runtime.rpc.UNKNOWN in a protobuf Struct; AnalyzeStack gets outputs, which
for pulumi-kubernetes 4.x are the live object plus `__inputs` (provider/pkg/provider/provider.go
checkpointObject) and for Deployments always carry the API-server default spec.replicas.
"""

from __future__ import annotations

import copy
import shutil
import socket
import subprocess
import sys
import time

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi.runtime.rpc import UNKNOWN

from policies.rules import RULES_BY_NAME
from policies.rules.samples import deployment, hpa
from tests.conftest import ROOT

SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}  # pulumi sdk rpc.py


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory):
    pack = tmp_path_factory.mktemp("copy") / "guardrails-installed-1.0.0"
    shutil.copytree(ROOT / "policies", pack, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", f"127.0.0.1:{_closed_port()}", str(pack)],
        cwd=pack,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    line = process.stdout.readline().decode().strip()
    assert line.isdigit(), process.stderr.read().decode()[-2000:]
    channel = grpc.insecure_channel(f"127.0.0.1:{line}")
    grpc.channel_ready_future(channel).result(timeout=30)
    yield analyzer_pb2_grpc.AnalyzerStub(channel)
    channel.close()
    process.kill()
    process.wait()


def _struct(value: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def _analyze(stub, props: dict, type_: str = "kubernetes:apps/v1:Deployment", name: str = "api"):
    return stub.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type=type_, properties=_struct(props), urn=f"urn:pulumi:prod::agent-platform::{type_}::{name}", name=name
        ),
        timeout=30,
    ).diagnostics


def _by_policy(diagnostics) -> dict:
    return {d.policyName: d for d in diagnostics}


def test_a_copy_under_another_name_answers_get_analyzer_info(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "agent-platform"
    assert {p.name for p in info.policies} == set(RULES_BY_NAME)


def test_an_unknown_annotation_does_not_hide_a_privileged_container(analyzer):
    props = deployment()
    props["spec"]["template"]["metadata"]["annotations"] = {"checksum/secret": UNKNOWN}
    props["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    found = _by_policy(_analyze(analyzer, props))
    assert found["not-privileged"].enforcementLevel == analyzer_pb2.MANDATORY
    assert not any("during preview" in d.message for d in found.values())


def test_a_rule_skips_only_when_a_field_it_needs_is_unknown_and_names_it(analyzer):
    props = deployment()
    props["spec"]["template"]["spec"]["containers"][0]["image"] = UNKNOWN
    diagnostics = _analyze(analyzer, props)
    skipped = {d.policyName: d for d in diagnostics if "during preview" in d.message}
    assert "image-digest-pinned" in skipped
    assert skipped["image-digest-pinned"].enforcementLevel == analyzer_pb2.ADVISORY
    assert "spec.template.spec.containers.0.image" in skipped["image-digest-pinned"].message
    assert all(d.enforcementLevel == analyzer_pb2.ADVISORY for d in diagnostics)  # nothing else fired
    assert "not-privileged" not in skipped and "read-only-root-filesystem" not in skipped


MALFORMED = [
    {"spec": "not-a-dict"},
    {"spec": {"template": {"spec": {"containers": [1, 2, 3]}}}},
    {"spec": {"template": {"spec": {"containers": "nginx"}}}},
    {"spec": {"template": {"spec": {"containers": [{"env": "X=1", "securityContext": []}]}}}},
    {"spec": {"template": {"spec": {"containers": [{"name": None, "image": 5, "ports": [None]}]}}}},
    {"spec": {"template": {"metadata": [], "spec": {"volumes": {"a": 1}}}}},
    {"metadata": "x", "spec": None},
    {"data": ["a", "b"]},
    {"data": {"k": {"nested": True}}},
    {"ports": "8080", "envs": 3, "capabilities": "ALL", "image": None},
]


@pytest.mark.parametrize("props", MALFORMED)
@pytest.mark.parametrize(
    "type_",
    [
        "kubernetes:apps/v1:Deployment",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:apps/v1:StatefulSet",
        "docker:index/container:Container",
    ],
)
def test_malformed_properties_give_diagnostics_not_errors(analyzer, props, type_):
    diagnostics = _analyze(analyzer, props, type_)  # a gRPC error would raise here
    assert all(d.message for d in diagnostics)


def test_malformed_properties_fail_closed_with_a_message():
    outcome = RULES_BY_NAME["not-privileged"].evaluate({"spec": {"template": {"spec": {"containers": [1]}}}})
    assert outcome.messages and "malformed properties" in outcome.messages[0]


def test_a_megabyte_value_is_analyzed_quickly(analyzer):
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big"},
        "data": {"blob": "a" * 1_000_000, "url": "redis://" + "b" * 1_000_000},
    }
    started = time.perf_counter()
    _analyze(analyzer, config, "kubernetes:core/v1:ConfigMap", "big")
    elapsed = time.perf_counter() - started
    print(f"\n1 MB x2 ConfigMap values analyzed over gRPC in {elapsed:.3f} s")
    assert elapsed < 10  # generous guard only; the figure is printed


def test_url_credentials_without_a_user_are_caught():
    rule = RULES_BY_NAME["configmap-no-secrets"]
    bad = {"data": {"REDIS": "redis://:s3cretpass@redis:6379/0"}}
    assert rule.run(bad) and not rule.run({"data": {"REDIS": "redis://redis:6379/0"}})


def _live_deployment(inputs: dict, secret_inputs: bool = False) -> dict:
    """A Deployment's outputs as pulumi-kubernetes 4.x returns them: the live object (API-server defaults:
    spec.replicas, revisionHistoryLimit, progressDeadlineSeconds, status, managedFields) plus `__inputs`."""
    live = copy.deepcopy(inputs)
    live["spec"].setdefault("replicas", 3)  # defaulted to 1 by the API server, then written by the HPA
    live["spec"].update(revisionHistoryLimit=10, progressDeadlineSeconds=600)
    live["metadata"].update(
        uid="0b7c6f5e-1f0e-4a3e-9a59-6d5c2a0f7a11",
        generation=1,
        resourceVersion="4711",
        managedFields=[
            {
                "manager": "pulumi-kubernetes",
                "operation": "Apply",
                "apiVersion": "apps/v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:template": {}}},
            },
            {
                "manager": "kube-controller-manager",
                "operation": "Update",
                "apiVersion": "apps/v1",
                "subresource": "scale",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:replicas": {}}},
            },
        ],
    )
    live["status"] = {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3, "observedGeneration": 1}
    live["__inputs"] = {**SECRET_SIG, "value": inputs} if secret_inputs else inputs
    return live


def _analyze_stack(stub, resources: list[tuple[str, dict]]):
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=t,
                name=p["metadata"]["name"],
                properties=_struct(p),
                urn=f"urn:pulumi:prod::agent-platform::{t}::{p['metadata']['name']}",
            )
            for t, p in resources
        ]
    )
    return [d for d in stub.AnalyzeStack(request, timeout=60).diagnostics if d.policyName == "no-replicas-with-hpa"]


@pytest.mark.parametrize("secret_inputs", [False, True])
def test_live_outputs_with_default_replicas_pass_no_replicas_with_hpa(analyzer, secret_inputs):
    scaler = hpa(3)
    live_hpa = {**copy.deepcopy(scaler), "status": {"currentReplicas": 3, "desiredReplicas": 3}, "__inputs": scaler}
    ok = _live_deployment(deployment(), secret_inputs)
    assert "replicas" in ok["spec"] and "replicas" not in deployment()["spec"]
    assert (
        _analyze_stack(
            analyzer,
            [("kubernetes:apps/v1:Deployment", ok), ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", live_hpa)],
        )
        == []
    )
    program_sets = deployment()
    program_sets["spec"]["replicas"] = 3
    bad = _analyze_stack(
        analyzer,
        [
            ("kubernetes:apps/v1:Deployment", _live_deployment(program_sets, secret_inputs)),
            ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", live_hpa),
        ],
    )
    assert [d.enforcementLevel for d in bad] == [analyzer_pb2.MANDATORY]


def test_the_preview_hands_secrets_to_the_pack_as_the_engine_does(tmp_path):
    """The engine sends a resource's secrets to a pack as secret values (pulumi/pulumi
    analyzer_plugin.go, KeepSecrets) and pulumi-policy unwraps them: rules see plaintext. The
    preview does the same, so a rule that flags a Docker container's env credentials fires here
    exactly when it would in `pulumi up`: the generated URLs only once known (up), the API key
    from stack config in both phases. Nothing of the values reaches the report."""
    import json

    from preview.capture import capture_stack
    from preview.policy import run_policy_pack

    config = tmp_path / "strict.json"
    config.write_text(json.dumps({"all": "mandatory"}))
    capture = capture_stack(ROOT, "local")[1]
    preview = capture_stack(ROOT, "local", phase="preview")[1]
    report = run_policy_pack(ROOT, capture, tmp_path, config, preview_capture=preview)
    found = {
        (v.resource, v.message.split(": ")[1]): v.phases
        for v in report.violations
        if v.policy == "docker-env-credentials"
    }
    assert found[("Container/agent-api-1", "env OPENAI_API_KEY")] == ["preview", "up"]
    assert found[("Container/agent-api-1", "env DATABASE_URL")] == ["up"]
    assert found[("Container/postgres", "env POSTGRES_PASSWORD")] == ["up"]
    text = (tmp_path / "policy-report.json").read_text() + (tmp_path / "policy-report.sarif").read_text()
    assert not any(value in text for value in capture.secret_values if len(value) > 6)
