"""The pack as the real engine drives it: started from a copy under another name, fed
preview-time unknowns, live outputs and malformed properties over the analyzer protocol.

Wire shapes, and where they come from:
- unknowns: pulumi_policy/proxy.py UNKNOWN_*_VALUE (the engine sends computed values as
  these sentinels in a preview; pulumi sdk/python/lib/pulumi/runtime/rpc.py UNKNOWN is the
  string one);
- secrets: pulumi sdk/python/lib/pulumi/runtime/rpc.py `_special_sig_key` /
  `_special_secret_sig` (the engine marshals analyzer properties with KeepSecrets);
- live outputs: pulumi-kubernetes provider/pkg/provider/provider.go `checkpointObject`
  (the live object plus `__inputs` = the inputs, wrapped with resource.MakeSecret); a live
  Deployment carries the API server's defaults (`spec.replicas`), `status` and
  `metadata.managedFields`.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE

from policies.rules.samples import deployment, hpa
from tests.conftest import ROOT

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
MANDATORY = analyzer_pb2.MANDATORY


def secret(value):
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    """A copy of the pack under another directory name, started exactly as the CLI starts it."""
    copy_dir = tmp_path_factory.mktemp("installed") / "agent-guardrails-1.0.0"
    shutil.copytree(ROOT / "policies", copy_dir, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "venv"))
    # `python -u -m pulumi.policy <engine address> <pack dir>`, cwd = the pack dir
    # (pulumi pkg/resource/plugin analyzer plugin; sdk/python/lib/pulumi/policy/__main__.py).
    process = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(copy_dir)],
                               cwd=copy_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = process.stdout.readline().decode().strip()
    assert line.isdigit(), process.stderr.read().decode()
    channel = grpc.insecure_channel(f"127.0.0.1:{line}")
    grpc.channel_ready_future(channel).result(timeout=30)
    stub = analyzer_pb2_grpc.AnalyzerStub(channel)
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for p in info.policies:
        request.policyConfig[p.name].CopyFrom(analyzer_pb2.PolicyConfig(enforcementLevel=MANDATORY))
    stub.Configure(request)
    yield stub, info
    channel.close()
    process.kill()
    process.wait()


def _struct(props) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(props)
    return s


def analyze(stub, type_, props, name="agent-api"):
    return list(stub.Analyze(analyzer_pb2.AnalyzeRequest(
        type=type_, name=name, urn=f"urn:pulumi:prod::agent-platform::{type_}::{name}", properties=_struct(props))).diagnostics)


def analyze_stack(stub, resources):
    return list(stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[
        analyzer_pb2.AnalyzerResource(type=t, name=n, urn=f"urn:pulumi:prod::agent-platform::{t}::{n}", properties=_struct(p))
        for t, n, p in resources])).diagnostics)


def test_a_copy_under_another_name_starts_as_the_engine_starts_it(pack):
    _, info = pack
    assert info.name == "agent-platform" and len(info.policies) >= 46


def test_an_unknown_annotation_does_not_switch_the_gate_off(pack):
    stub, _ = pack
    good = deployment()
    good["spec"]["template"]["metadata"]["annotations"] = {"checksum/secret": UNKNOWN_STRING_VALUE}
    assert analyze(stub, DEPLOYMENT, good) == []  # nothing skipped, nothing found

    bad = copy.deepcopy(good)
    bad["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    found = analyze(stub, DEPLOYMENT, bad)
    assert [(d.policyName, d.enforcementLevel) for d in found] == [("not-privileged", MANDATORY)]


def test_a_rule_skips_only_when_the_field_it_needs_is_unknown_and_names_it(pack):
    stub, _ = pack
    props = deployment()
    props["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"] = UNKNOWN_NUMBER_VALUE
    found = analyze(stub, DEPLOYMENT, props)
    assert [d.policyName for d in found] == ["high-uid-gid"]
    assert found[0].enforcementLevel == analyzer_pb2.ADVISORY
    assert "can't run policy 'high-uid-gid'" in found[0].message
    assert ".spec.template.spec.containers.0.securityContext.runAsUser" in found[0].message


def _live(props: dict, replicas: int) -> dict:
    """A Deployment as pulumi-kubernetes returns it after `up`: live object + secret `__inputs`."""
    live = copy.deepcopy(props)
    live["spec"]["replicas"] = replicas
    live["metadata"].update(uid="5f0c6a1e-0000-4000-8000-000000000001", resourceVersion="48211", generation=3,
                            managedFields=[{"manager": "pulumi-kubernetes", "operation": "Apply"},
                                           {"manager": "kube-controller-manager", "operation": "Update", "subresource": "scale"}])
    live["status"] = {"replicas": replicas, "readyReplicas": replicas, "observedGeneration": 3}
    live["__inputs"] = secret(props)
    return live


def test_stack_rules_judge_what_the_program_declares_not_the_live_defaults(pack):
    stub, _ = pack
    declared = deployment()
    declared["spec"].pop("replicas", None)
    ok = analyze_stack(stub, [(DEPLOYMENT, "api", _live(declared, 7)), (HPA, "api", _live_hpa())])
    assert not [d for d in ok if d.policyName == "no-replicas-with-hpa"]

    declared["spec"]["replicas"] = 3
    bad = analyze_stack(stub, [(DEPLOYMENT, "api", _live(declared, 7)), (HPA, "api", _live_hpa())])
    assert [(d.policyName, d.enforcementLevel) for d in bad if d.policyName == "no-replicas-with-hpa"] == [
        ("no-replicas-with-hpa", MANDATORY)]


def _live_hpa() -> dict:
    inputs = hpa(3)
    live = copy.deepcopy(inputs)
    live["status"] = {"currentReplicas": 7, "desiredReplicas": 7}
    live["__inputs"] = secret(inputs)
    return live


MALFORMED = [
    {"spec": "not a mapping"},
    {"spec": {"template": {"spec": {"containers": [1, "two", None]}}}},
    {"spec": {"template": {"spec": {"containers": [{"name": "app", "securityContext": ["x"]}]}}}},
    {"metadata": 5, "spec": {"template": ["x"]}},
    {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": "FOO=1", "image": 42}]}}}},
    {"kind": ["Deployment"], "spec": {"template": {"spec": {"securityContext": 3, "containers": [{"resources": "big"}]}}}},
]


@pytest.mark.parametrize("props", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_properties_get_diagnostics_never_errors(pack, props):
    stub, _ = pack
    found = analyze(stub, DEPLOYMENT, props)  # a gRPC error would raise here
    assert found and all(d.enforcementLevel == MANDATORY for d in found)
    stack = analyze_stack(stub, [(DEPLOYMENT, "api", props), (HPA, "api", {"spec": "x"})])
    assert all(d.message for d in stack)


def test_a_one_megabyte_value_is_analyzed_quickly(pack):
    stub, _ = pack
    for value in ("a" * 1_000_000, "redis://:" + "p" * 1_000_000, "sk-" * 333_333):
        props = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "agents"},
                 "data": {"BLOB": value}}
        started = time.perf_counter()
        analyze(stub, CONFIGMAP, props, name="big")
        seconds = time.perf_counter() - started
        print(f"1 MB value {value[:6]!r}...: analyzed in {seconds:.3f}s")
        assert seconds < 5  # a guard against the quadratic regex (was ~20 s at 100 kB), not a benchmark
