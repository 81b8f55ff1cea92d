"""The gate covers everything the platform renders, in every form it renders it.

Kinds: every type the shipped stacks and the fully-featured prod variants (tests/fully_featured.py) render is
judged by some rule (rule.kinds(): a resource rule's types, a stack rule's `reads`), so a component that starts
rendering a new kind fails here until a rule names it; the CloudNativePG kinds count once a rule names them.
Forms: single defects planted into the rendered fully-featured objects are caught, one per form the platform
renders (native sidecars, both canary mechanisms, blue-green colours and the Services that select them, both
KEDA minima, the jobs' identity). Preview: every rule's failing example, with unknown values beside the defect,
draws the rule's violation at prod's level from the pack over the analyzer protocol, as the up phase does; an
unknown on the defect itself is never passed silently, except by the rules documented to (and decided in the up
phase).
"""

from __future__ import annotations

import copy
import functools
import json
import operator
import re

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi.runtime.rpc import UNKNOWN

from policies.rules import ALL_RULES, RULES_BY_NAME
from policies.rules.base import Resource
from policies.rules.coverage import covered_kinds
from policies.rules.k8s import with_change
from policies.rules.operations import ROUTE_CANARY_EXAMPLE
from preview.policy import LEVELS, configure_request, run_policy_pack, start_pack
from tests.conftest import ROOT, capture_with, shipped
from tests.fully_featured import VARIANTS

# Not deployed objects: a component groups resources, a provider is the engine's, a RandomPassword is a value
# kept in the state.
NOT_OBJECTS = ("agent-platform:", "pulumi:providers:", "random:")

NEW_RULES = [
    "httproute-attachment",
    "httproute-cross-namespace-backends-granted",
    "keda-scaledobject-bounds",
    "keda-trigger-authentication-sources",
    "externalsecret-owned-and-refreshed",
    "monitor-scoped-to-its-namespace",
    "alert-rules-well-formed",
    "job-bounded",
    "cronjob-no-overlap",
    "job-own-service-account",
    "image-pull-secrets-consistent",
    "annotations-no-secrets",
    "no-long-lived-token-secret",
    "limitrange-container-defaults",
    "docker-datastores-on-internal-networks",
    "docker-datastore-volumes-declared",
    "pooler-instances",
    "postgres-objects-name-a-cluster",
]


@functools.cache
def variant(name: str):
    import tempfile
    from pathlib import Path

    return capture_with(Path(tempfile.mkdtemp(prefix=f"{name}-")), "prod", VARIANTS[name])


def stack_of(capture) -> list[Resource]:
    return [
        Resource(r.type, r.name, r.urn, r.inputs, bool(r.protect))
        for r in capture.resources
        if not r.type.startswith(NOT_OBJECTS)
    ]


def find(resources: list[Resource], kind: str, name: str) -> Resource:
    return next(
        r for r in resources if r.props.get("kind") == kind and (r.props.get("metadata") or {}).get("name") == name
    )


def replaced(resources: list[Resource], old: Resource, props: dict) -> list[Resource]:
    return [Resource(r.type, r.name, r.urn, props, r.protect) if r is old else r for r in resources]


def test_the_new_rules_exist():
    assert set(NEW_RULES) <= set(RULES_BY_NAME)


def test_every_kind_the_shipped_and_fully_featured_stacks_render_has_rules():
    captures = [shipped(s) for s in ("dev", "prod", "local", "e2e")] + [variant(n) for n in VARIANTS]
    rendered = {r.type for c in captures for r in c.resources if not r.type.startswith(NOT_OBJECTS)}
    # The variants do render what they claim: the kinds of every recent feature.
    assert {
        "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
        "kubernetes:keda.sh/v1alpha1:ScaledObject",
        "kubernetes:keda.sh/v1alpha1:TriggerAuthentication",
        "kubernetes:external-secrets.io/v1:ExternalSecret",
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        "kubernetes:batch/v1:Job",
        "kubernetes:batch/v1:CronJob",
        "docker:index/volume:Volume",
    } <= rendered
    assert rendered - covered_kinds() == set(), "a rendered kind no rule names"


def test_a_kind_no_rule_names_is_reported():
    assert "kubernetes:example.com/v1:Widget" not in covered_kinds()
    assert RULES_BY_NAME["min-replicas"].kinds() and RULES_BY_NAME["explicit-namespace"].kinds() == ()


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_fully_featured_prod_draws_no_mandatory_violation(tmp_path, name):
    report = run_policy_pack(ROOT, variant(name), tmp_path)
    assert [v for v in report.violations if v.level == "mandatory"] == []
    assert len(report.policies) == len(ALL_RULES)


def test_the_variants_render_every_form():
    gateway = stack_of(variant("gateway-canary"))
    route = find(gateway, "HTTPRoute", "agent-platform").props
    assert [b["weight"] for r in route["spec"]["rules"] for b in r["backendRefs"]][:2] == [90, 10]
    canary = stack_of(variant("ingress-canary"))
    assert (
        find(canary, "Ingress", "agent-api-canary").props["metadata"]["annotations"][
            "nginx.ingress.kubernetes.io/canary-weight"
        ]
        == "10"
    )
    colours = stack_of(variant("ingress-blue-green"))
    assert find(colours, "Deployment", "agent-api-green").props["spec"]["replicas"] == 0
    assert find(colours, "Service", "agent-api").props["spec"]["selector"]["app.kubernetes.io/name"] == "agent-api-blue"


def run(name: str, subject) -> list:
    return RULES_BY_NAME[name].run(subject)


def test_probes_are_read_on_native_sidecars():
    resources = stack_of(variant("gateway-canary"))
    api = find(resources, "Deployment", "agent-api").props
    spec = api["spec"]["template"]["spec"]
    sidecar = {**copy.deepcopy(spec["containers"][1]), "restartPolicy": "Always"}
    for probe in ("livenessProbe", "readinessProbe"):
        sidecar.pop(probe)
    planted = with_change(api, "spec.template.spec.initContainers", [*spec["initContainers"], sidecar])
    assert run("liveness-probe", api) == [] and run("readiness-probe", api) == []
    assert run("liveness-probe", planted) == ["container otel: no livenessProbe"]
    assert run("readiness-probe", planted) == ["container otel: no readinessProbe"]
    # A plain init container runs to completion before the app: it takes no probes and is not asked for them.
    assert run("liveness-probe", with_change(planted, "spec.template.spec.initContainers.1.restartPolicy", None)) == []


def test_both_canary_mechanisms_are_read():
    gateway = stack_of(variant("gateway-canary"))
    route = find(gateway, "HTTPRoute", "agent-platform").props
    assert run("canary-weight-in-range", route) == []
    zero = with_change(
        with_change(route, "spec.rules.0.backendRefs.0.weight", 0), "spec.rules.0.backendRefs.1.weight", 0
    )
    assert "every backend weight is 0" in run("canary-weight-in-range", zero)[0]
    assert run("canary-weight-in-range", ROUTE_CANARY_EXAMPLE.failing)
    ingress = find(stack_of(variant("ingress-canary")), "Ingress", "agent-api-canary").props
    assert run("canary-weight-in-range", ingress) == []
    annotations = {**ingress["metadata"]["annotations"], "nginx.ingress.kubernetes.io/canary-weight": "ten"}
    assert run("canary-weight-in-range", with_change(ingress, "metadata.annotations", annotations))


def test_an_idle_colour_at_zero_is_exempt_only_while_no_routed_service_selects_it():
    resources = stack_of(variant("ingress-blue-green"))
    rule = RULES_BY_NAME["min-replicas"]
    assert rule.run(resources) == []
    main = find(resources, "Service", "agent-api")
    to_idle = copy.deepcopy(main.props)
    to_idle["spec"]["selector"]["app.kubernetes.io/name"] = "agent-api-green"
    found = rule.run(replaced(resources, main, to_idle))
    assert [m for m, _ in found] == ["Deployment agent-api-green: 0 pod(s) at minimum, want >= 2"]
    # The colour's own Service, once an Ingress routes to it, takes traffic too.
    ingress = find(resources, "Ingress", "agent-platform")
    routed = copy.deepcopy(ingress.props)
    routed["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "agent-api-green"
    assert rule.run(replaced(resources, ingress, routed))


def test_keda_idle_replica_count_is_the_minimum():
    resources = stack_of(variant("gateway-canary"))
    rule = RULES_BY_NAME["min-replicas"]
    assert rule.run(resources) == []
    scaled = find(resources, "ScaledObject", "agent-runner")
    idle = with_change(scaled.props, "spec.idleReplicaCount", 0)
    assert [m for m, _ in rule.run(replaced(resources, scaled, idle))] == [
        "StatefulSet agent-runner: 0 pod(s) at minimum, want >= 2"
    ]
    assert run("keda-scaledobject-bounds", scaled.props) == []
    assert run("keda-scaledobject-bounds", with_change(scaled.props, "spec.idleReplicaCount", 3))


JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZ2VudC1hcGkifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


@pytest.mark.parametrize(
    "value",
    [
        f"Authorization=Bearer {JWT}",
        JWT,
        "Authorization: Basic YWdlbnQ6aHVudGVyMg==",
        "Basic YWdlbnQ6aHVudGVyMg==",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "host=db user=agent password=hunter2",
    ],
)
def test_credentials_are_found_in_env_args_annotations_and_configmaps(value):
    resources = stack_of(variant("gateway-canary"))
    api = find(resources, "Deployment", "agent-api").props
    c0 = "spec.template.spec.containers.0"
    env = [*api["spec"]["template"]["spec"]["containers"][0]["env"], {"name": "UPSTREAM_HEADERS", "value": value}]
    assert run("env-no-literal-secrets", api) == []
    assert run("env-no-literal-secrets", with_change(api, f"{c0}.env", env))
    assert run("args-no-literal-secrets", with_change(api, f"{c0}.args", ["--header", value]))
    assert run("annotations-no-secrets", api) == []
    assert run("annotations-no-secrets", with_change(api, "spec.template.metadata.annotations", {"x": value}))
    config_map = find(resources, "ConfigMap", "agent-api").props
    assert run("configmap-no-secrets", config_map) == []
    assert run("configmap-no-secrets", with_change(config_map, "data.UPSTREAM_HEADERS", value))


@pytest.mark.parametrize(
    "plain",
    ["Basic authentication is off", "use a bearer token", "https://runbooks.example.com/agent-api", "eyJ", "info"],
)
def test_words_about_credentials_are_not_credentials(plain):
    api = find(stack_of(variant("gateway-canary")), "Deployment", "agent-api").props
    assert run("annotations-no-secrets", with_change(api, "spec.template.metadata.annotations", {"x": plain})) == []


def test_jobs_running_as_the_services_identity_are_caught():
    resources = stack_of(variant("gateway-canary"))
    rule = RULES_BY_NAME["job-own-service-account"]
    assert rule.run(resources) == []
    job = next(r for r in resources if r.props.get("kind") == "Job")
    as_api = with_change(job.props, "spec.template.spec.serviceAccountName", "agent-api")
    [(message, urn)] = rule.run(replaced(resources, job, as_api))
    assert "eks.amazonaws.com/role-arn" in message and urn == job.urn


@pytest.mark.parametrize(
    ("rule", "kind", "name", "path", "value"),
    [
        ("httproute-attachment", "HTTPRoute", "agent-platform", "spec.parentRefs.0.sectionName", None),
        ("httproute-attachment", "HTTPRoute", "agent-platform", "spec.hostnames", ["*.example.com"]),
        ("keda-trigger-authentication-sources", "TriggerAuthentication", "agent-runner-scaler", "spec", {}),
        (
            "externalsecret-owned-and-refreshed",
            "ExternalSecret",
            "agent-platform-secrets",
            "spec.target.creationPolicy",
            "Orphan",
        ),
        (
            "monitor-scoped-to-its-namespace",
            "ServiceMonitor",
            "agent-platform",
            "spec.namespaceSelector",
            {"any": True},
        ),
        ("alert-rules-well-formed", "PrometheusRule", "agent-platform", "spec.groups.0.rules.0.for", None),
        ("cronjob-no-overlap", "CronJob", "agent-api-cleanup", "spec.concurrencyPolicy", "Allow"),
        ("job-bounded", "CronJob", "agent-api-cleanup", "spec.jobTemplate.spec.backoffLimit", 100),
        ("limitrange-container-defaults", "LimitRange", "limits", "spec.limits.0.defaultRequest", {}),
    ],
)
def test_a_single_planted_defect_on_each_new_kind_is_caught(rule, kind, name, path, value):
    obj = find(stack_of(variant("gateway-canary")), kind, name).props
    assert run(rule, obj) == []
    assert run(rule, with_change(obj, path, value))


def test_a_backend_in_another_namespace_needs_a_reference_grant():
    resources = stack_of(variant("gateway-canary"))
    rule = RULES_BY_NAME["httproute-cross-namespace-backends-granted"]
    route = find(resources, "HTTPRoute", "agent-platform")
    cross = with_change(route.props, "spec.rules.0.backendRefs.1.namespace", "shared")
    assert rule.run(resources) == [] and rule.run(replaced(resources, route, cross))


def test_a_job_without_the_pull_secrets_is_caught():
    resources = stack_of(variant("gateway-canary"))
    rule = RULES_BY_NAME["image-pull-secrets-consistent"]
    assert rule.run(resources) == []
    job = next(r for r in resources if r.props.get("kind") == "Job")
    [(message, _)] = rule.run(
        replaced(resources, job, with_change(job.props, "spec.template.spec.imagePullSecrets", []))
    )
    assert "pulls from registry.example.com" in message


def test_a_single_pooler_pod_is_caught_at_the_prod_minimum():
    pooler = find(stack_of(shipped("prod")), "Pooler", "postgres-pooler-rw").props
    assert run("pooler-instances", pooler) == []
    assert run("pooler-instances", with_change(pooler, "spec.instances", 1))


@pytest.mark.parametrize(
    ("kind", "name"), [("Pooler", "postgres-pooler-rw"), ("ScheduledBackup", "postgres-scheduled")]
)
def test_a_postgres_object_naming_no_cluster_of_the_stack_is_caught(kind, name):
    resources = stack_of(shipped("prod"))  # prod's Postgres is CloudNativePG; the variants' a StatefulSet
    rule = RULES_BY_NAME["postgres-objects-name-a-cluster"]
    assert rule.run(resources) == []
    obj = find(resources, kind, name)
    [(message, urn)] = rule.run(replaced(resources, obj, with_change(obj.props, "spec.cluster.name", "postgress")))
    assert "'postgress'" in message and urn == obj.urn


# --------------------------------------------------------------------------- the preview phase, over gRPC

PROD_CONFIG = json.loads((ROOT / "policies" / "config" / "prod.json").read_text())
# Every rule whose own example plants a defect: NEW_RULES and every rule before or since.
EXAMPLED = [r.name for r in ALL_RULES if r.example.failing]
# Rules added after NEW_RULES, named so that dropping one's example cannot shrink the coverage unnoticed.
LATER_RULES = [
    "connectivity-paths-admitted",
    "service-port-reachable",
    "postgres-cluster-protected",
    "postgres-wal-archived",
    "postgres-backup-retention",
    "postgres-instances",
    "backup-before-migration",
    "scheduled-backup-present",
]


def prod_level(name: str) -> int:
    """The level prod.json gives the rule: its own entry's enforcementLevel, else `all`."""
    default = PROD_CONFIG["all"]
    entry = PROD_CONFIG.get(name, default)
    return LEVELS[entry if isinstance(entry, str) else entry.get("enforcementLevel", default)]


def struct(value: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def with_unknowns(props: dict) -> dict:
    """The object as a first preview sends it: unknown values (provider-computed) beside what the rule reads."""
    changed = copy.deepcopy(props)
    changed.setdefault("metadata", {}).setdefault("annotations", {})["checksum/secret"] = UNKNOWN
    if isinstance(changed.get("spec"), dict):
        changed["spec"]["x-computed"] = UNKNOWN
    return changed


def type_of(rule, props: dict) -> str:
    """The type token the engine sends the object as: from its apiVersion and kind (a `kubernetes:*` rule's
    example, or a rule of several types), else the rule's first type (Docker)."""
    if isinstance(props.get("apiVersion"), str) and isinstance(props.get("kind"), str):
        group, _, version = props["apiVersion"].rpartition("/")
        token = f"kubernetes:{group or 'core'}/{version}:{props['kind']}"
        if rule.applies_to(token):
            return token
    return next(t for t in rule.types if not t.endswith("*"))


@pytest.fixture(scope="module")
def pack():
    """The pack as prod runs it: policies/config/prod.json's levels and properties."""
    process, port = start_pack(ROOT / "policies")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=30)
    stub = analyzer_pb2_grpc.AnalyzerStub(channel)
    stub.Configure(configure_request(stub.GetAnalyzerInfo(empty_pb2.Empty()), PROD_CONFIG, "prod.json"))
    yield stub
    channel.close()
    process.kill()
    process.wait()


def diagnostics(stub, rule, subject, unknowns: bool = True, type_: str | None = None) -> list:
    """The rule's diagnostics for `subject`: preview (unknowns beside it) or, unknowns=False, up (none).
    A stack rule's resources go as an AnalyzeStack request, a resource rule's object as an Analyze."""
    props_of = with_unknowns if unknowns else copy.deepcopy
    if rule.stack:
        request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    type=r.type,
                    name=r.name,
                    urn=r.urn,
                    properties=struct(props_of(dict(r.props))),
                    options=analyzer_pb2.AnalyzerResourceOptions(protect=r.protect),
                )
                for r in subject
            ]
        )
        found = stub.AnalyzeStack(request, timeout=30).diagnostics
    else:
        type_ = type_ or type_of(rule, subject)
        request = analyzer_pb2.AnalyzeRequest(
            type=type_,
            name="x",
            urn=f"urn:pulumi:prod::agent-platform::{type_}::x",
            properties=struct(props_of(subject)),
        )
        found = stub.Analyze(request, timeout=30).diagnostics
    return [d for d in found if d.policyName == rule.name]


def violations(found: list, name: str) -> bool:
    """Found, each the rule's own violation at prod's level (not a "can't run ... during preview")."""
    return bool(found) and all(
        d.enforcementLevel == prod_level(name) and "during preview" not in d.message for d in found
    )


def test_every_rule_with_a_failing_example_is_covered_at_prods_level():
    assert set(NEW_RULES) | set(LATER_RULES) <= set(EXAMPLED)
    # prod.json lowers one rule: service-port-reachable warns in every phase; every other rule is mandatory.
    assert [n for n in EXAMPLED if prod_level(n) != analyzer_pb2.MANDATORY] == ["service-port-reachable"]
    assert prod_level("service-port-reachable") == analyzer_pb2.ADVISORY


@pytest.mark.parametrize("name", EXAMPLED)
def test_each_rule_fails_its_example_beside_unknowns_in_the_preview_phase(pack, name):
    rule = RULES_BY_NAME[name]
    assert diagnostics(pack, rule, rule.example.passing) == []
    assert violations(diagnostics(pack, rule, rule.example.failing), name)


@pytest.mark.parametrize("name", EXAMPLED)
def test_each_rule_fails_its_example_in_the_up_phase(pack, name):
    rule = RULES_BY_NAME[name]
    assert diagnostics(pack, rule, rule.example.passing, unknowns=False) == []
    assert violations(diagnostics(pack, rule, rule.example.failing, unknowns=False), name)


# ----------------------------------------------------------- an unknown on the defect itself

MISSING = object()


def defect_paths(passing, failing, path: tuple = ()) -> list[tuple]:
    """The leaves where the failing example holds a value the passing one does not (a field the failing
    example only lacks is an absence, which no unknown value stands for)."""
    if isinstance(failing, dict) and (passing is MISSING or isinstance(passing, dict)):
        before = {} if passing is MISSING else passing
        return [d for k, v in failing.items() for d in defect_paths(before.get(k, MISSING), v, (*path, k))]
    if isinstance(failing, list) and failing and (passing is MISSING or isinstance(passing, list)):
        before = [] if passing is MISSING else passing
        return [
            d
            for i, v in enumerate(failing)
            for d in defect_paths(before[i] if i < len(before) else MISSING, v, (*path, i))
        ]
    return [] if failing == passing else [path]


def unknown_at(props: dict, paths: list[tuple]) -> dict:
    changed = copy.deepcopy(props)
    for *parents, leaf in paths:
        functools.reduce(operator.getitem, parents, changed)[leaf] = UNKNOWN
    return changed


def unknown_defect(rule) -> tuple[object, set[str]]:
    """The failing example with each value its defect planted unknown, as a first preview sends a value computed
    from another resource's output, and those fields' dotted paths. A stack example: in each resource the passing
    example also holds (a resource only the failing example holds is the defect by its presence). No paths: the
    defect is only an absence, nothing to make unknown."""
    passing, failing = rule.example.passing, rule.example.failing
    if not rule.stack:
        paths = defect_paths(passing, failing)
        return unknown_at(failing, paths), {".".join(map(str, p)) for p in paths}
    before = {(r.type, r.name): dict(r.props) for r in passing}
    planted, dotted = [], set()
    for r in failing:
        paths = defect_paths(before[(r.type, r.name)], dict(r.props)) if (r.type, r.name) in before else []
        dotted |= {".".join(map(str, p)) for p in paths}
        planted.append(Resource(r.type, r.name, r.urn, unknown_at(dict(r.props), paths), r.protect))
    return planted, dotted


# Rules that step over an unknown value without a word (no violation, no "can't run ... during preview"): sound
# only because the value is known, and judged, in the up phase (asserted below), or judged elsewhere.
SKIPS_AN_UNKNOWN_SILENTLY = {
    "annotations-no-secrets": "an unknown annotation value is computed (a checksum of a Secret's output), never "
    "a literal the program wrote: a literal is known in every preview",
    "docker-env-credentials": "an unknown env entry is computed from another resource's output (a URL holding a "
    "generated password): it is known, and judged, in the up phase",
    "docker-image-tag-set": "an unknown Container.image is a RemoteImage's id (sha256, immutable); the reference "
    "it was pulled by is judged on the RemoteImage, whose name the program writes",
}
UNKNOWN_DEFECTS = [n for n in EXAMPLED if unknown_defect(RULES_BY_NAME[n])[1]]
CANT_RUN = re.compile(r"during preview: \w+ value at \.(\S+) can't be known")


def test_the_silent_skips_are_rules_with_an_example_to_plant_into():
    assert set(SKIPS_AN_UNKNOWN_SILENTLY) <= set(UNKNOWN_DEFECTS)


@pytest.mark.parametrize("name", UNKNOWN_DEFECTS)
def test_an_unknown_defect_is_never_passed_silently_in_the_preview_phase(pack, name):
    rule = RULES_BY_NAME[name]
    subject, planted = unknown_defect(rule)
    found = diagnostics(pack, rule, subject, type_=None if rule.stack else type_of(rule, rule.example.failing))
    if name in SKIPS_AN_UNKNOWN_SILENTLY:
        assert found == [], f"{name} no longer skips an unknown silently: drop it from SKIPS_AN_UNKNOWN_SILENTLY"
        assert violations(diagnostics(pack, rule, rule.example.failing, unknowns=False), name)
        return
    # Either it fails closed (its violation at prod's level) or it says, advisory, that it cannot run yet and names
    # the unknown field; the up phase, the value known, decides (test_each_rule_fails_its_example_in_the_up_phase).
    assert found
    fails_closed = any(d.enforcementLevel == prod_level(name) and "during preview" not in d.message for d in found)
    cant_run = [CANT_RUN.search(d.message) for d in found if d.enforcementLevel == analyzer_pb2.ADVISORY]
    assert fails_closed or any(m and m.group(1) in planted for m in cant_run), [d.message for d in found]


def test_a_remote_images_mutable_tag_is_judged_in_the_preview_phase(pack):
    # docker-image-tag-set skips a Container's unknown image because the RemoteImage that computes it is judged.
    rule = RULES_BY_NAME["docker-image-tag-set"]
    latest = {"name": "registry.example.com/api:latest", "repoDigest": UNKNOWN}
    assert violations(diagnostics(pack, rule, latest, type_="docker:index/remoteImage:RemoteImage"), rule.name)


def test_a_path_read_from_an_unknown_url_is_failed_in_the_up_phase(pack):
    # connectivity-paths-admitted reads a workload's paths from the URLs its env names; on a first preview a URL
    # built from a generated password (DATABASE_URL in a Secret) is unknown, so the path, and its violation, appear
    # only in the up phase. The preview still warns, advisory, that the postgres port is reachable by no one.
    rule, ports = RULES_BY_NAME["connectivity-paths-admitted"], RULES_BY_NAME["service-port-reachable"]
    first_preview = [
        Resource(r.type, r.name, r.urn, unknown_at(dict(r.props), [("stringData", "DATABASE_URL")]), r.protect)
        if r.type == "kubernetes:core/v1:Secret"
        else r
        for r in rule.example.failing
    ]
    assert first_preview != rule.example.failing
    assert diagnostics(pack, rule, first_preview) == []
    assert violations(diagnostics(pack, ports, first_preview), ports.name)
    [up] = diagnostics(pack, rule, rule.example.failing, unknowns=False)
    assert "env DATABASE_URL" in up.message and up.enforcementLevel == analyzer_pb2.MANDATORY
