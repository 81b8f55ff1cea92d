"""The pack's fast paths through the pulumi-policy SDK (policies/sdk_memo.py).

They are only sound if (1) the conversions give what the SDK's give, (2) a memoized value is
handed back for the same message and never for a different one, (3) no rule mutates what it
reads, since the policies that read one message share one value, (4) a policy left out of an
Analyze would have done nothing, and (5) the pack answers the same with and without them
(the last test runs both over the gRPC protocol).
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import math
from pathlib import Path

import grpc
import pulumi_policy.policy
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi.runtime.rpc import UNKNOWN

from policies.rules import ALL_RULES
from policies.sdk_memo import IdentityMemo, NotPlain, baseline_copy, by_resource_type, install, struct_to_dict
from preview.capture import capture_stack
from preview.policy import analyze, configure_request, engine_document, start_pack
from tests.conftest import ROOT, capture_with

SAMPLES = [
    {},
    {"a": 1, "b": 1.5, "c": -0.0, "d": 1e300, "e": True, "f": False, "g": None, "h": "", "i": "ünïcode ✓"},
    {"nested": {"deeper": {"list": [1, "two", None, [3, {"four": 4}], {}], "empty": []}}},
    {"spec": {"template": {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 8000}]}]}}}},
]


def struct(value: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


@pytest.mark.parametrize("value", SAMPLES)
def test_struct_conversion_matches_message_to_dict(value):
    message = struct(value)
    assert struct_to_dict(message) == json_format.MessageToDict(message)
    # Same types too (the rules tell 1.0 from True, and a float stays a float as MessageToDict leaves it).
    assert repr(struct_to_dict(message)) == repr(json_format.MessageToDict(message))


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_struct_conversion_refuses_what_message_to_dict_refuses(bad):
    message = struct({"x": 1})
    message.fields["x"].number_value = bad
    with pytest.raises(ValueError):
        json_format.MessageToDict(message)
    with pytest.raises(ValueError):
        struct_to_dict(message)


def sdk_copy():
    """A private copy of pulumi_policy.policy (the real SDK module): install() patches its namespace and
    its servicer class, and must not touch the module the rest of the test session uses."""
    path = Path(pulumi_policy.policy.__file__)
    spec = importlib.util.spec_from_file_location(f"pulumi_policy._test_copy_{next(COPIES)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COPIES = itertools.count()


def policy(sdk, name, seen, types=None):
    """A resource policy that records what it was handed, and reports a violation when props ask for it."""

    def validate(args, report_violation):
        if types is not None and args.resource_type not in types:
            return
        seen.append((name, args.props, args.get_config()))
        if isinstance(args.props, dict) and args.props.get("bad"):
            report_violation(f"{name} found it bad")

    return sdk.ResourceValidationPolicy(name=name, description=f"{name} rule", validate=validate)


def servicer(sdk, policies):
    return sdk._PolicyAnalyzerServicer("pack", "1.0.0", policies, sdk.EnforcementLevel.MANDATORY)


def analyze_request(props, type_="kubernetes:apps/v1:Deployment", provider=None):
    request = analyzer_pb2.AnalyzeRequest(type=type_, name="api", urn=f"urn:pulumi:s::p::{type_}::api")
    request.properties.update(props)
    if provider is not None:
        request.provider.CopyFrom(
            analyzer_pb2.AnalyzerProviderResource(
                type="pulumi:providers:kubernetes", name="k8s", urn="urn:provider", properties=struct(provider)
            )
        )
    return request


def test_one_conversion_per_request_however_many_policies_read_it():
    sdk = sdk_copy()
    calls = []
    memos = install(sdk, convert=lambda message: calls.append(message) or struct_to_dict(message))
    seen = []
    serve = servicer(sdk, [policy(sdk, f"p{i}", seen) for i in range(79)])
    request = analyze_request(SAMPLES[3], provider={"namespace": "x"})
    serve.Analyze(request, None)
    assert len(seen) == 79 and all(props is seen[0][1] for _, props, _ in seen)
    assert len(calls) == 2  # the properties and the provider's, once each
    assert seen[0][1] == json_format.MessageToDict(request.properties)
    assert memos["converted"](seen[0][1])  # handed on by deserialize_properties untouched, no proxy around it


def test_the_sdks_own_conversions_run_outside_an_analysis_and_for_what_convert_leaves():
    sdk = sdk_copy()
    install(sdk, convert=lambda message: {"converted": True})
    seen = []
    serve = servicer(sdk, [policy(sdk, "p", seen)])
    configure = analyzer_pb2.ConfigureAnalyzerRequest()
    configure.policyConfig["p"].enforcementLevel = analyzer_pb2.ADVISORY
    configure.policyConfig["p"].properties.update({"limit": 3})
    serve.Configure(configure, None)
    serve.Analyze(analyze_request({"a": 1}), None)
    assert seen[-1][1] == {"converted": True}
    assert seen[-1][2] == {"limit": 3.0}  # Configure: json_format's value (a float), not convert's

    def leave_it(message):
        raise NotPlain("asset")

    sdk2 = sdk_copy()
    memos = install(sdk2, convert=leave_it)
    seen2 = []
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "s3cret"}
    servicer(sdk2, [policy(sdk2, "p", seen2)]).Analyze(analyze_request({"token": secret, "n": 2}), None)
    assert seen2[-1][1] == {"token": "s3cret", "n": 2.0}  # the SDK's deserialize: secret unwrapped, float kept
    assert not memos["converted"](seen2[-1][1])


def test_the_provider_is_built_once_per_content():
    sdk = sdk_copy()
    built = []
    original = sdk._PolicyAnalyzerServicer._get_provider_resource

    def counting(self, request):
        built.append(request.provider.name)
        return original(self, request)

    sdk._PolicyAnalyzerServicer._get_provider_resource = counting
    install(sdk)
    serve = servicer(sdk, [policy(sdk, f"p{i}", []) for i in range(5)])
    for props in ({"a": 1}, {"a": 2}, {"a": 3}):
        serve.Analyze(analyze_request(props, provider={"namespace": "one"}), None)
    serve.Analyze(analyze_request({"a": 4}, provider={"namespace": "two"}), None)
    assert built == ["k8s", "k8s"]


def test_analyze_asks_only_the_policies_for_the_resource_type_and_keeps_their_levels():
    sdk = sdk_copy()
    install(sdk)
    deployments, services = ("kubernetes:apps/v1:Deployment",), ("kubernetes:core/v1:Service",)
    kinds = {"for-deployments": deployments, "for-services": services, "also-deployments": deployments}
    by_resource_type(sdk, lambda p, type_: type_ in kinds[p.name])
    seen = []
    serve = servicer(sdk, [policy(sdk, name, seen, types) for name, types in kinds.items()])
    info = serve.GetAnalyzerInfo(None, None)
    assert [p.name for p in info.policies] == list(kinds)  # every policy is still listed and configurable
    configure = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, level in (
        ("for-deployments", analyzer_pb2.ADVISORY),
        ("also-deployments", analyzer_pb2.DISABLED),
        ("for-services", analyzer_pb2.MANDATORY),
    ):
        configure.policyConfig[name].enforcementLevel = level
    serve.Configure(configure, None)
    response = serve.Analyze(analyze_request({"bad": True}), None)
    assert [name for name, _, _ in seen] == ["for-deployments"]
    assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [
        ("for-deployments", analyzer_pb2.ADVISORY)
    ]
    serve.Analyze(analyze_request({"bad": True}, type_=services[0]), None)
    assert [name for name, _, _ in seen] == ["for-deployments", "for-services"]


def test_the_memo_is_bounded_and_never_confuses_a_reused_id():
    seen = []
    memo = IdentityMemo(lambda v: seen.append(v) or len(seen), size=2)
    a, b, c = [1], [2], [3]
    assert (memo(a), memo(a), memo(b), memo(c)) == (1, 1, 2, 3)
    assert len(memo.cache.entries) == 2
    assert memo(a) == 4  # evicted (oldest first), so converted again
    # An entry is returned only for the very object it was made for, not for another with its id.
    key = id(a)
    memo.cache.entries[key] = ([0], "stale")
    assert memo(a) == 5


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.name)
def test_no_rule_mutates_what_it_reads(rule):
    for subject in (rule.example.passing, rule.example.failing):
        before = copy.deepcopy(subject)
        config = copy.deepcopy(dict(rule.example.config))
        rule.evaluate(subject, config)
        assert subject == before
        assert config == dict(rule.example.config)


# (5) The pack with its fast paths against a copy without them, both started as the CLI starts a pack
# and spoken to over the analyzer protocol.


@pytest.fixture(scope="module")
def baseline_project(tmp_path_factory):
    return baseline_copy(ROOT / "policies", tmp_path_factory.mktemp("baseline")).parent


@pytest.fixture(scope="module")
def both_packs(baseline_project):
    config = {rule.name: dict(rule.example.config) for rule in ALL_RULES if rule.example.config}
    stubs, processes = [], []
    for project in (ROOT, baseline_project):
        process, port = start_pack(project / "policies")
        processes.append(process)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        stub.Configure(configure_request(stub.GetAnalyzerInfo(empty_pb2.Empty()), config, "examples"))
        stubs.append(stub)
    yield stubs
    for process in processes:
        process.kill()
        process.wait()


def answers(stub, props: dict, type_: str) -> list[tuple]:
    request = analyzer_pb2.AnalyzeRequest(
        type=type_, name="api", urn=f"urn:pulumi:prod::agent-platform::{type_}::api", properties=struct(props)
    )
    return sorted(
        (d.policyName, d.message, d.enforcementLevel, d.urn) for d in stub.Analyze(request, timeout=30).diagnostics
    )


def concrete(type_: str) -> str:
    return type_[:-1] + "Thing" if type_.endswith("*") else type_


SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def with_unknown_and_secret(props: dict) -> dict:
    """The same object with what a preview and the engine add: an unknown value and a secret one."""
    changed = copy.deepcopy(props)
    for key, value in list(changed.items()):
        if isinstance(value, dict):
            value["x-unknown"] = UNKNOWN
            value["x-secret"] = {**SECRET, "value": "sk-live-0123456789abcdef0123"}
            break
        changed[key] = UNKNOWN
        break
    return changed


@pytest.mark.parametrize("rule", [r for r in ALL_RULES if not r.stack], ids=lambda r: r.name)
def test_every_rule_example_is_answered_the_same_with_and_without_the_fast_paths(both_packs, rule):
    fast, baseline = both_packs
    for type_ in rule.types:
        for props in (rule.example.passing, rule.example.failing, with_unknown_and_secret(rule.example.failing)):
            expected = answers(baseline, props, concrete(type_))
            assert answers(fast, props, concrete(type_)) == expected
    assert any(policy == rule.name for policy, *_ in answers(fast, rule.example.failing, concrete(rule.types[0])))


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_shipped_stacks_are_answered_the_same_in_both_phases(baseline_project, stack):
    phases = [(phase, engine_document(capture_stack(ROOT, stack, None, phase)[1])) for phase in ("preview", "up")]
    fast = analyze(ROOT, stack, phases)
    baseline = analyze(baseline_project, stack, phases, ROOT / "policies" / "config" / f"{stack}.json")
    assert fast.found == baseline.found


def test_a_violating_stack_is_answered_the_same(baseline_project, tmp_path):
    def insecure(cfg):
        svc = cfg["agent-platform:services"][0]
        svc["securityContext"] = {"readOnlyRootFilesystem": False}
        svc["image"] = "registry.example.com/agents/agent-api:1.4.2"

    phases = [("up", engine_document(capture_with(tmp_path, "prod", insecure)))]
    fast = analyze(ROOT, "prod", phases)
    assert any(v.level == "mandatory" for v in fast.found.values())
    assert fast.found == analyze(baseline_project, "prod", phases, ROOT / "policies" / "config" / "prod.json").found


def test_an_unverified_sdk_version_runs_the_plain_sdk_path(monkeypatch, capsys):
    import types

    import policies.sdk_memo as sdk_memo

    assert sdk_memo.sdk_version() in sdk_memo.VERIFIED_SDK_VERSIONS  # the pinned SDK gets the fast paths
    monkeypatch.setattr(sdk_memo, "sdk_version", lambda: "9.0.0")
    servicer = type("Servicer", (), {"Analyze": lambda self, request, context: None})
    sdk = types.SimpleNamespace(
        json_format=json_format, deserialize_properties=object(), _PolicyAnalyzerServicer=servicer
    )
    before = (sdk.json_format, sdk.deserialize_properties, servicer.__init__, servicer.Analyze)
    memos = install(sdk)
    by_resource_type(sdk, lambda policy, type_: True)
    assert (sdk.json_format, sdk.deserialize_properties, servicer.__init__, servicer.Analyze) == before
    assert memos["converted"]({}) is False
    assert "pulumi-policy 9.0.0 is not one of ['1.21.0']: the pack runs the plain SDK path" in capsys.readouterr().err
