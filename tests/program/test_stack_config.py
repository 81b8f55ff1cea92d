"""The typed stack config: every bad key reported at once, by path, before any resource exists."""

from __future__ import annotations

import pytest
from agent_platform.settings.errors import ConfigError
from agent_platform.settings.stack import StackConfig
from agent_platform.settings.values import quantity_value, split_image

from preview.capture import capture_stack
from preview.engine import ProgramError
from program.stack_config import CONFIG_SOURCE_ENV, parse_stack_config
from tests.conftest import ROOT, capture_with, stack_file, unlined


def svc(cfg, i=0):
    return cfg["agent-platform:services"][i]


def set_in(path, value):
    """A mutation that sets cfg[key][a][b]... = value."""

    def mutate(cfg):
        node = cfg
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
        node[path[-1]] = value

    return mutate


SERVICES = "agent-platform:services"

BAD_CONFIGS = [
    # (stack, mutation, expected message fragment)
    (
        "prod",
        set_in([SERVICES, 1, "autoscaling", "minReplicas"], 12),
        "agent-platform:services[agent-runner].autoscaling.minReplicas: must be <= maxReplicas (12 > 10)",
    ),
    (
        "prod",
        set_in([SERVICES, 0, "pdb"], {"minAvailable": 3}),
        "agent-platform:services[agent-api].pdb.minAvailable: must be < autoscaling.minReplicas (3 >= 3)",
    ),
    (
        "dev",
        set_in([SERVICES, 0, "pdb"], {"enabled": True, "minAvailable": 1}),
        "agent-platform:services[agent-api].pdb.minAvailable: must be < replicas (1 >= 1)",
    ),
    (
        "dev",
        set_in([SERVICES, 0, "image"], "registry.example.com/agents/agent-api:latest"),
        "agent-platform:services[agent-api].image: must not use the mutable tag `latest`",
    ),
    (
        "dev",
        set_in([SERVICES, 0, "image"], "registry.example.com/agents/agent-api"),
        "agent-platform:services[agent-api].image: must carry a tag or a digest",
    ),
    (
        "dev",
        set_in([SERVICES, 0, "port"], 70000),
        "agent-platform:services[agent-api].port: Input should be less than or equal to 65535",
    ),
    (
        "dev",
        set_in([SERVICES, 0, "resources", "limits", "memory"], "lots"),
        "agent-platform:services[agent-api].resources.limits.memory: must be a Kubernetes quantity",
    ),
    (
        "dev",
        set_in([SERVICES, 0, "resources", "requests", "cpu"], "2"),
        "agent-platform:services[agent-api].resources.requests.cpu: must be <= limits.cpu (2 > 500m)",
    ),
    (
        "dev",
        set_in(["agent-platform:ingress", "host"], "Agents_Dev.example.com"),
        "agent-platform:ingress.host: must be a lowercase DNS name",
    ),
    ("dev", set_in([SERVICES, 0, "replicaz"], 2), "agent-platform:services[agent-api].replicaz: unknown key"),
    ("dev", set_in(["agent-platform:colour"], "blue"), "agent-platform:colour: unknown key"),
    (
        "dev",
        set_in([SERVICES, 0, "kind"], "DaemonSet"),
        "agent-platform:services[agent-api].kind: Input should be 'Deployment' or 'StatefulSet'",
    ),
    (
        "dev",
        set_in([SERVICES, 0, "persistence"], {"enabled": True}),
        "agent-platform:services[agent-api].persistence.enabled: per-pod volumes need kind: StatefulSet",
    ),
    (
        "dev",
        set_in([SERVICES, 0, "env", "DATABASE_URL"], "postgresql://x"),
        "agent-platform:services[agent-api].env.DATABASE_URL: is set by the platform",
    ),
    (
        "dev",
        set_in(["agent-platform:redis", "maxmemory"], "512Mi"),
        "agent-platform:redis.maxmemory: must be below resources.limits.memory",
    ),
    (
        "dev",
        set_in(["agent-platform:postgres", "mode"], "external"),
        "agent-platform:postgres.externalUrlKey: is required when mode is external",
    ),
    (
        "dev",
        set_in(["agent-platform:namespace", "name"], "default"),
        "agent-platform:namespace.name: must not be the system namespace",
    ),
    ("dev", set_in([SERVICES, 1, "name"], "agent-api"), "agent-platform:services[1].name: duplicate service name"),
    (
        "dev",
        set_in([SERVICES, 0, "drain"], {"preStopSeconds": 30, "terminationGraceSeconds": 20}),
        "agent-platform:services[agent-api].drain.terminationGraceSeconds: must exceed preStopSeconds",
    ),
    (
        "dev",
        set_in([SERVICES, 0, "probes", "readiness"], {"path": "/healthz", "periodSeconds": 10, "failureThreshold": 3}),
        "agent-platform:services[agent-api].probes.readiness: must differ from liveness",
    ),
    (
        "dev",
        set_in(["agent-platform:ingress", "tls"], {"mode": "certManager"}),
        "agent-platform:ingress.tls.clusterIssuer: is required when mode is certManager",
    ),
    (
        "dev",
        lambda cfg: cfg.pop("agent-platform:kubernetes"),
        "agent-platform:kubernetes: is required when platform is kubernetes",
    ),
    ("dev", set_in(["agent-platform:environment"], None), "agent-platform:environment:"),
    (
        "dev",
        set_in(["agent-platform:network"], {"egress": [{"cidr": "10.0.0.999/8"}]}),
        "agent-platform:network.egress[0].cidr: must be a CIDR",
    ),
    (
        "dev",
        set_in(["agent-platform:network"], {"egress": [{"cidr": "10.0.0.0/8", "exceptCidrs": ["192.168.0.0/16"]}]}),
        "agent-platform:network.egress[0].exceptCidrs[0]: 192.168.0.0/16 is not inside 10.0.0.0/8",
    ),
    # the value itself is shown, never the `{v!r}` template
    (
        "dev",
        set_in([SERVICES, 0, "resources", "limits", "memory"], "lots"),
        "agent-platform:services[agent-api].resources.limits.memory: must be a Kubernetes quantity such as 500m, 1, "
        "256Mi or "
        "10Gi, got 'lots'",
    ),
    # names, labels, classes, CIDRs as the API server validates them
    (
        "dev",
        set_in([SERVICES, 0, "name"], "1api"),
        "agent-platform:services[0].name: must be a lowercase DNS-1035 label",
    ),
    ("dev", set_in([SERVICES, 0, "name"], "Agent-API"), "got 'Agent-API'"),
    (
        "dev",
        set_in([SERVICES, 1, "name"], "r" * 53),
        "agent-platform:services[1].name: must be at most 52 characters for a StatefulSet (53",
    ),
    (
        "dev",
        set_in([SERVICES, 0, "name"], "a" * 64),
        "agent-platform:services[0].name: must be a lowercase DNS-1035 label",
    ),
    (
        "dev",
        lambda cfg: (svc(cfg).update(name="a" * 60), cfg.update({"agent-platform:environment": "prod"})),
        "agent-platform:services[0].name: with the environment, the instance label",
    ),
    (
        "dev",
        set_in(["agent-platform:ingress", "className"], "Nginx_Public"),
        "agent-platform:ingress.className: must be a Kubernetes object name",
    ),
    (
        "prod",
        set_in(["agent-platform:postgres", "persistence", "storageClass"], "SSD retain"),
        "agent-platform:postgres.persistence.storageClass: must be a Kubernetes object name",
    ),
    (
        "dev",
        set_in(["agent-platform:network"], {"egress": [{"cidr": "203.0.113.7"}]}),
        "agent-platform:network.egress[0].cidr: must be a CIDR with an explicit prefix such as 10.0.0.0/8 or "
        "203.0.113.7/32, got '203.0.113.7'",
    ),
    (
        "dev",
        set_in([SERVICES, 0, "image"], "registry.example.com/Agents/agent-api:1.4.2"),
        "agent-platform:services[agent-api].image: repository must be lowercase",
    ),
    (
        "dev",
        set_in(["agent-platform:redis", "maxmemory"], "0"),
        "agent-platform:redis.maxmemory: must be greater than 0, got '0'",
    ),
    # duplicate routes, reserved env, peers
    (
        "dev",
        lambda cfg: svc(cfg, 1).update(ingress={"paths": ["/"]}),
        "agent-platform:services[agent-runner].ingress.paths[0]: '/' is already routed to 'agent-api'",
    ),
    (
        "dev",
        set_in([SERVICES, 0, "env", "PORT"], "9000"),
        "agent-platform:services[agent-api].env.PORT: is set by the platform",
    ),
    (
        "dev",
        set_in([SERVICES, 1, "allowFrom"], ["agent-ui"]),
        "agent-platform:services[agent-runner].allowFrom[0]: 'agent-ui' is not a service of this stack",
    ),
    # an explicit quota must hold the worst case
    (
        "prod",
        set_in(["agent-platform:namespace", "quota"], {"limitsCpu": "32"}),
        "agent-platform:namespace.quota.limitsCpu: 32 is below the worst case 79",
    ),
]


@pytest.mark.parametrize("stack,mutate,message", BAD_CONFIGS, ids=[m for _, _, m in BAD_CONFIGS])
def test_bad_config_is_rejected_by_key_before_any_resource(tmp_path, stack, mutate, message):
    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, stack, mutate)
    text = unlined(str(info.value))
    assert text.startswith(f"Pulumi.{stack}.yaml: ")
    assert message in text
    assert "Traceback" not in text
    assert info.value.registered == 0, "a resource was registered before validation finished"


def test_every_problem_is_reported_at_once(tmp_path):
    def many(cfg):
        svc(cfg)["port"] = 0
        svc(cfg, 1)["image"] = "x:latest"
        cfg["agent-platform:ingress"]["host"] = "UPPER"

    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "dev", many)
    lines = unlined(str(info.value)).splitlines()
    assert len(lines) == 3
    assert all(line.startswith("Pulumi.dev.yaml: agent-platform:") for line in lines)


def test_unknown_top_level_key_is_reported_with_the_other_errors(tmp_path):
    def two(cfg):
        cfg["agent-platform:colour"] = "blue"
        svc(cfg)["port"] = 0

    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "dev", two)
    lines = unlined(str(info.value)).splitlines()
    assert any("agent-platform:colour: unknown key" in line for line in lines)
    assert any("agent-platform:services[agent-api].port:" in line for line in lines)


def test_no_message_prints_a_template(tmp_path):
    def many(cfg):
        svc(cfg)["image"] = "x:latest"
        svc(cfg)["resources"]["limits"]["cpu"] = "much"
        cfg["agent-platform:ingress"]["host"] = "UPPER"

    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "dev", many)
    assert "{v" not in unlined(str(info.value)) and "'UPPER'" in unlined(str(info.value))


def test_secret_env_key_must_be_set_as_a_secret(tmp_path):
    # A plain (non-secret) value for a key named by secretEnv is refused.
    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "dev", set_in(["agent-platform:openaiApiKey"], "sk-plaintext"))
    assert "agent-platform:openaiApiKey: must be a secret" in unlined(str(info.value))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stack_files_parse(stack):
    values = {k.split(":", 1)[1]: v for k, v in stack_file(stack)["config"].items()}
    config = parse_stack_config(values)
    assert isinstance(config, StackConfig)
    assert config.environment == stack
    assert config.secret_keys() == ["langsmithApiKey", "openaiApiKey"]


def test_prod_relies_on_secure_defaults_dev_relaxes_them_explicitly():
    prod = parse_stack_config({k.split(":", 1)[1]: v for k, v in stack_file("prod")["config"].items()})
    dev = parse_stack_config({k.split(":", 1)[1]: v for k, v in stack_file("dev")["config"].items()})
    assert prod.availability.topology_spread and prod.postgres.protect and prod.services[0].autoscaling.enabled
    assert not dev.availability.topology_spread and not dev.postgres.protect and not dev.services[0].autoscaling.enabled
    # Every relaxation in dev says why, in a comment on or above its line.
    lines = (ROOT / "Pulumi.dev.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip().endswith("false") or "false  #" in line or "false   #" in line:
            assert "#" in line or lines[i - 1].strip().startswith("#"), line


def test_quantities_and_images():
    assert quantity_value("500m") == 0.5
    assert quantity_value("1Gi") == 2**30
    assert quantity_value("2e3") == 2000
    with pytest.raises(ValueError):
        quantity_value("1GB")
    assert split_image("reg:5000/a/b:1.2@sha256:" + "a" * 64) == ("reg:5000/a/b", "1.2", "sha256:" + "a" * 64)
    assert split_image("reg:5000/a/b") == ("reg:5000/a/b", None, None)


def test_config_error_lines_name_the_source():
    with pytest.raises(ConfigError) as info:
        parse_stack_config({"environment": "dev", "services": []}, "Pulumi.x.yaml")
    assert (
        unlined(str(info.value))
        == "Pulumi.x.yaml: agent-platform:services: List should have at least 1 item after validation, not 0"
    )


def test_config_handed_over_as_the_language_host_does(monkeypatch):
    """`pulumi up` passes config as PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS: the loader reads those too."""
    import json

    import pulumi
    from pulumi.runtime import config as runtime_config

    from program.stack_config import load_stack_config

    cfg = {
        f"agent-platform:{k.split(':', 1)[1]}" if ":" in k else k: (v if isinstance(v, str) else json.dumps(v))
        for k, v in stack_file("dev")["config"].items()
    }
    cfg["agent-platform:openaiApiKey"] = "sk-from-the-engine"
    cfg["agent-platform:langsmithApiKey"] = "ls-from-the-engine"
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(cfg))
    monkeypatch.setenv(
        "PULUMI_CONFIG_SECRET_KEYS", json.dumps(["agent-platform:openaiApiKey", "agent-platform:langsmithApiKey"])
    )
    runtime_config.set_all_config({}, [])
    monkeypatch.setattr(pulumi, "get_stack", lambda: "dev")
    config = load_stack_config()
    assert config.environment == "dev" and config.services[0].name == "agent-api"

    # The caller names the real source of the config (e.g. `preview --config-file`).
    cfg["agent-platform:colour"] = "blue"
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(cfg))
    with pytest.raises(ConfigError) as info:
        load_stack_config()
    assert unlined(str(info.value)).startswith("Pulumi.dev.yaml: agent-platform:colour: unknown key")
    monkeypatch.setenv(CONFIG_SOURCE_ENV, "staging/candidate.yaml")
    with pytest.raises(ConfigError) as info:
        load_stack_config()
    assert unlined(str(info.value)).startswith("staging/candidate.yaml: agent-platform:colour: unknown key")


def test_quota_is_derived_from_the_worst_case():
    prod = parse_stack_config({k.split(":", 1)[1]: v for k, v in stack_file("prod")["config"].items()})
    worst = prod.worst_case()
    # agent-api: 20 max + 1 surge (or its migration Job before it), agent-runner 10 (StatefulSet, no surge),
    # 2 cores each; agent-api's cleanup CronJob pod (2 cores); redis 1; postgres (CloudNativePG): 3 instances
    # and the restore drill's one at 2 cores plus the Barman Cloud sidecar's 1, the drill's own pod 0.5,
    # 2 PgBouncer pods and their rollout's surge pod at 0.5 (agent_platform/operators.py).
    assert worst["limits.cpu"] == 21 * 2 + 10 * 2 + 2 + 4 * (2 + 1) + 0.5 + 3 * 0.5 + 1
    assert worst["pods"] == 21 + 10 + 1 + 4 + 1 + 3 + 1
    from agent_platform.k8s.namespace import AgentNamespace

    hard = AgentNamespace.quota_hard(prod.namespace, prod.derived_quota(), "prod")
    assert hard["limits.cpu"] == "79" and hard["pods"] == "41" and hard["requests.storage"] == "410Gi"
    assert quantity_value(hard["requests.cpu"]) == pytest.approx(
        21 * 0.5 + 10 * 0.5 + 0.5 + 4 * (1 + 0.1) + 0.05 + 3 * 0.1 + 0.25
    )


def test_label_values_end_alphanumerically_after_truncation():
    from agent_platform.labels import image_version, is_label_value

    long_tag = "1.4.2-" + "a" * 56 + "-rc.1"  # cut at 63 lands on '-'
    version = image_version(f"registry.example.com/a/b:{long_tag}")
    assert is_label_value(version) and len(version) <= 63 and version[-1].isalnum()


SUMMARIZER = "registry.example.com/agents/summarizer:1.0.0@sha256:" + "ab" * 32
# Where each stack file's services list ends, and what a second routed service needs there.
SECOND_SERVICE = {
    "prod": ("      ingress:\n        enabled: false\n", ""),
    "local": (
        "        enabled: false   # no voluntary disruptions on a single host\n",
        "      autoscaling: {enabled: false}\n",
    ),
}


@pytest.mark.parametrize("stack", sorted(SECOND_SERVICE))
def test_a_second_service_inheriting_the_root_path_is_refused_naming_both_and_the_fix(tmp_path, monkeypatch, stack):
    """A service that leaves ingress.paths unset inherits ["/"]: the second one collides with the first on a
    cluster's Ingress and on a Docker host's proxy alike (nginx refuses a duplicate location)."""
    end, extra = SECOND_SERVICE[stack]
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    assert text.count(end) == 1
    text = text.replace(end, f"{end}    - name: summarizer\n      image: {SUMMARIZER}\n{extra}")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
    line = text.splitlines().index("    - name: summarizer") + 1
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProgramError) as info:
        capture_stack(ROOT, stack, tmp_path / f"Pulumi.{stack}.yaml")
    assert str(info.value).splitlines() == [
        f"Pulumi.{stack}.yaml:{line}: agent-platform:services[summarizer].ingress.paths: unset, so it inherits ['/'], "
        "and '/' is already routed to 'agent-api': give 'summarizer' its own ingress.paths (e.g. ['/summarizer']), or "
        "set its ingress.enabled: false if it takes no external traffic"
    ]


@pytest.mark.parametrize(
    "stack,key,typo",
    [("dev", "services", "servics"), ("prod", "namespace", "namespac"), ("local", "services", "service")],
)
def test_a_typod_top_level_key_is_reported_alone_not_after_what_follows_from_it(
    tmp_path, monkeypatch, stack, key, typo
):
    """`servics:` leaves `services` unset; `services: is required` (at `config:`, above the typo) is a
    consequence, not a second problem: the typo's did-you-mean is the one line."""
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text().replace(f"agent-platform:{key}:", f"agent-platform:{typo}:")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
    line = text.splitlines().index(f"  agent-platform:{typo}:") + 1
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProgramError) as info:
        capture_stack(ROOT, stack, tmp_path / f"Pulumi.{stack}.yaml")
    assert str(info.value).splitlines() == [
        f"Pulumi.{stack}.yaml:{line}: agent-platform:{typo}: unknown key (did you mean {key}?)"
    ]


API = "registry.example.com/agents/agent-api"


@pytest.mark.parametrize(
    "rollout,problem",
    [
        ({"canary": {"image": API}}, "rollout.canary.image: must carry a tag or a digest"),
        ({"canary": {"image": f"{API}:1.5 0"}}, "rollout.canary.image: must be an image reference"),
        ({"canary": {"image": ""}}, "rollout.canary.image: must be an image reference"),
        (
            {"canary": {"image": "registry.example.com/Agents/x:1"}},
            "rollout.canary.image: repository must be lowercase",
        ),
        ({"canary": {"image": f"{API}:1.5.0@sha256:abc"}}, "rollout.canary.image: digest must be sha256:<64 hex>"),
        ({}, "rollout.canary: is required when strategy is canary"),
        ({"strategy": "blueGreen", "blueGreen": "x"}, "rollout.blueGreen: Input should be a valid dictionary"),
    ],
)
def test_a_bad_release_block_is_one_located_problem_not_an_internal_assertion(tmp_path, rollout, problem):
    """A canary (or blueGreen) block that does not validate is left out while the stack's checks run;
    they judged the service as if it had one (`assert r.canary is not None`), and pydantic reported the
    AssertionError as `agent-platform:: Assertion failed` at line 1 before the real problem."""
    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "prod", lambda cfg: svc(cfg).update(rollout={"strategy": "canary", **rollout}))
    lines = unlined(str(info.value)).splitlines()
    assert len(lines) == 1 and "Assertion" not in lines[0], lines
    assert lines[0].startswith(f"Pulumi.prod.yaml: agent-platform:services[agent-api].{problem}")
