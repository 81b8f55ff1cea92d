"""Bad inputs -> the exact line, valid edge cases -> accepted, grouped by the rule they exercise.

Each row changes one thing in a shipped stack file and runs the preview's config check (the one
it runs before the program): a bad row must give exactly its one line, the value shown; a valid
row must pass and mean what was written. The rules cite their upstream source in
components/agent_platform/settings/.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest
import yaml
from agent_platform.settings.stack import StackConfig

from preview.capture import stack_inputs
from preview.engine import ProgramError
from program.stack_config import check_stack
from tests.conftest import ROOT, stack_file

SERVICES = "agent-platform:services"


def run_check(tmp_path: Path, name: str, text: str) -> StackConfig:
    """The preview's config check on a stack file in tmp_path, run from there as a user would."""
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(text)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        inputs = stack_inputs(ROOT, name, path)
    finally:
        os.chdir(cwd)
    return check_stack(inputs.config, set(inputs.secret_keys))


def changed(stack: str, mutate) -> str:
    data = copy.deepcopy(stack_file(stack))
    mutate(data["config"])
    return yaml.safe_dump(data, sort_keys=False)


def problems_of(tmp_path: Path, stack: str, mutate) -> list[str]:
    with pytest.raises(ProgramError) as error:
        run_check(tmp_path, stack, changed(stack, mutate))
    return str(error.value).splitlines()


def at(path: str, value):
    """A mutation setting `path` (keys, `[i]` list items) in the config to `value`."""
    parts = [int(i) if i else k for i, k in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path)]

    def mutate(cfg):
        node = cfg
        head = f"agent-platform:{parts[0]}"
        if len(parts) == 1:
            cfg[head] = value
            return
        node = cfg.setdefault(head, {})
        for part in parts[1:-1]:
            if isinstance(part, int):
                node = node[part]
            else:
                node = node.setdefault(part, {})
        node[parts[-1]] = value

    mutate.value = value
    return mutate


BAD = {
    "pydantic's own findings show the value": [
        (
            "prod",
            at("services[0].port", "eighty"),
            "agent-platform:services[agent-api].port: Input should be a valid "
            "integer, unable to parse string as an integer, got 'eighty'",
        ),
        (
            "prod",
            at("services[1].autoscaling.maxReplicas", 165.5),
            "agent-platform:services[agent-runner].autoscaling."
            "maxReplicas: Input should be a valid integer, got a number with a fractional part, got 165.5",
        ),
    ],
    "allowed values, with a did-you-mean": [
        (
            "prod",
            at("services[1].kind", "Statefulset"),
            "agent-platform:services[agent-runner].kind: Input should be "
            "'Deployment' or 'StatefulSet', got 'Statefulset' (did you mean StatefulSet?)",
        ),
        (
            "prod",
            at("redis.maxmemoryPolicy", "allkeys_lru"),
            "agent-platform:redis.maxmemoryPolicy: Input should be "
            "'noeviction', 'allkeys-lru', 'volatile-lru', 'allkeys-lfu', 'volatile-lfu', 'allkeys-random', "
            "'volatile-random' or 'volatile-ttl', got 'allkeys_lru' (did you mean allkeys-lru?)",
        ),
    ],
    "unknown keys, with a did-you-mean": [
        (
            "prod",
            at("monitorng", {"enabled": True}),
            "agent-platform:monitorng: unknown key (did you mean monitoring?)",
        ),
        (
            "prod",
            at("services[0].autoscaling.maxReplica", 4),
            "agent-platform:services[agent-api].autoscaling.maxReplica: unknown key (did you mean maxReplicas?)",
        ),
    ],
    "cron schedules (robfig/cron ParseStandard, as the API server parses a CronJob's)": [
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "61 3 * * *"),
            "agent-platform:services[agent-api]."
            "checkpointCleanup.schedule: minute field: 61 is outside 0-59, got '61 3 * * *'",
        ),
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "0 24 * * *"),
            "agent-platform:services[agent-api]."
            "checkpointCleanup.schedule: hour field: 24 is outside 0-23, got '0 24 * * *'",
        ),
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "0 3 0 * *"),
            "agent-platform:services[agent-api]."
            "checkpointCleanup.schedule: day of month field: 0 is outside 1-31, got '0 3 0 * *'",
        ),
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "0 3 * 13 *"),
            "agent-platform:services[agent-api]."
            "checkpointCleanup.schedule: month field: 13 is outside 1-12, got '0 3 * 13 *'",
        ),
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "0 3 * * 7"),
            "agent-platform:services[agent-api]."
            "checkpointCleanup.schedule: day of week field: 7 is outside 0-6, got '0 3 * * 7'",
        ),
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "*/0 3 * * *"),
            "agent-platform:services[agent-api]."
            "checkpointCleanup.schedule: minute field: step '0' must be a positive number, got '*/0 3 * * *'",
        ),
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "0 5-2 * * *"),
            "agent-platform:services[agent-api]."
            "checkpointCleanup.schedule: hour field: range '5-2' starts after it ends, got '0 5-2 * * *'",
        ),
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "0 3 * * funday"),
            "agent-platform:services[agent-api]."
            "checkpointCleanup.schedule: day of week field: 'funday' is not a number, name or range, "
            "got '0 3 * * funday'",
        ),
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "0 3 * *"),
            "agent-platform:services[agent-api]."
            "checkpointCleanup.schedule: must be a cron schedule of five fields (minute hour day-of-month month "
            "day-of-week), got '0 3 * *'",
        ),
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "TZ=UTC 0 3 * * *"),
            "agent-platform:services[agent-api]."
            "checkpointCleanup.schedule: must not carry a time zone (TZ=): set timeZone instead, "
            "got 'TZ=UTC 0 3 * * *'",
        ),
        (
            "prod",
            at("postgres.restoreDrill.schedule", "0 5 * * 8"),
            "agent-platform:postgres.restoreDrill.schedule: day of week field: 8 is outside 0-6, got '0 5 * * 8'",
        ),
    ],
    "tolerations (core validation ValidateTolerations)": [
        (
            "prod",
            at("services[0].scheduling.tolerations", [{"key": "gpu", "operator": "Exists", "value": "yes"}]),
            "agent-platform:services[agent-api].scheduling.tolerations[0].value: must be empty when operator is "
            "Exists, got 'yes'",
        ),
        (
            "prod",
            at("services[0].scheduling.tolerations", [{"value": "yes"}]),
            "agent-platform:services[agent-api].scheduling.tolerations[0].operator: must be Exists when key is empty "
            "(match every taint), got 'Equal'",
        ),
        (
            "prod",
            at("services[0].scheduling.tolerations", [{"key": "gpu", "effect": "NoSchedule", "tolerationSeconds": 60}]),
            "agent-platform:services[agent-api].scheduling.tolerations[0].effect: must be NoExecute when "
            "tolerationSeconds is set, got 'NoSchedule'",
        ),
        (
            "prod",
            at("services[0].scheduling.tolerations", [{"key": "gpu", "value": "a b"}]),
            "agent-platform:services[agent-api].scheduling.tolerations[0].value: must be a label value (at most 63: "
            "a-z, A-Z, 0-9, '-', '_', '.'), got 'a b'",
        ),
        (
            "prod",
            at("services[0].scheduling.tolerations", [{"key": "gpu pool", "operator": "Exists"}]),
            "agent-platform:services[agent-api].scheduling.tolerations[0].key: must be a Kubernetes label or "
            "annotation key ([prefix/]name, name at most 63: a-z, A-Z, 0-9, '-', '_', '.'), got 'gpu pool'",
        ),
    ],
    "a claim's size is positive (ValidatePersistentVolumeClaimSpec)": [
        (
            "prod",
            at("redis.persistence.size", "0"),
            "agent-platform:redis.persistence.size: must be greater than 0, got '0'",
        ),
        (
            "prod",
            at("services[1].persistence.size", "0Gi"),
            "agent-platform:services[agent-runner].persistence.size: must be greater than 0, got '0Gi'",
        ),
    ],
    "ports 1-65535": [
        (
            "prod",
            at("services[0].port", 0),
            "agent-platform:services[agent-api].port: Input should be greater than or equal to 1, got 0",
        ),
        (
            "prod",
            at("services[0].port", 65536),
            "agent-platform:services[agent-api].port: Input should be less than or equal to 65535, got 65536",
        ),
    ],
    "names (apimachinery IsDNS1123Label, IsDNS1123Subdomain, IsDNS1035Label)": [
        (
            "prod",
            at("services[1].name", "Agent_Runner"),
            "agent-platform:services[1].name: must be a lowercase "
            "DNS-1035 label (starts with a letter; a-z, 0-9, '-'; at most 63): it names a Kubernetes Service, got "
            "'Agent_Runner'",
        ),
        (
            "prod",
            at("services[0].allowFrom", ["agent-runner", "9lives"]),
            "agent-platform:services[agent-api]."
            "allowFrom[1]: must be a lowercase DNS-1035 label (starts with a letter; a-z, 0-9, '-'; at most 63): it "
            "names a Kubernetes Service, got '9lives'",
        ),
        (
            "prod",
            at("ingress.host", "Agents.Example.com"),
            "agent-platform:ingress.host: must be a lowercase DNS name (RFC 1123), got 'Agents.Example.com'",
        ),
    ],
    "label keys and values (apimachinery IsQualifiedName, IsValidLabelValue)": [
        (
            "prod",
            at("labels", {"team": "a" * 64}),
            "agent-platform:labels.team: must be a label value (at most 63: "
            f"a-z, A-Z, 0-9, '-', '_', '.', alphanumeric at both ends), got '{'a' * 64}'",
        ),
        (
            "prod",
            at("labels", {"Team Name": "x"}),
            "agent-platform:labels.Team Name: must be a Kubernetes label or "
            "annotation key ([prefix/]name, name at most 63: a-z, A-Z, 0-9, '-', '_', '.'), got 'Team Name'",
        ),
    ],
    "CIDRs (networking ValidateIPBlock: net.ParseCIDR)": [
        (
            "prod",
            at("network.egress", [{"cidr": "10.0.0.1"}]),
            "agent-platform:network.egress[0].cidr: must be a "
            "CIDR with an explicit prefix such as 10.0.0.0/8 or 203.0.113.7/32, got '10.0.0.1'",
        ),
        (
            "prod",
            at("network.egress", [{"cidr": "10.0.0.0/33"}]),
            "agent-platform:network.egress[0].cidr: must be a "
            "CIDR such as 0.0.0.0/0 or 10.0.0.0/8 ('10.0.0.0/33' does not appear to be an IPv4 or IPv6 network), got "
            "'10.0.0.0/33'",
        ),
    ],
    "quantities are never negative (ValidateResourceQuantityValue)": [
        (
            "prod",
            at("services[0].resources.requests.cpu", -1),
            "agent-platform:services[agent-api].resources.requests.cpu: must not be negative, got '-1'",
        ),
        (
            "prod",
            at("namespace.quota.memory", "-2Gi"),
            "agent-platform:namespace.quota.memory: must not be negative, got '-2Gi'",
        ),
    ],
    "mount paths are unique in a container (ValidateVolumeMounts)": [
        (
            "prod",
            lambda cfg: cfg[SERVICES][0].update(
                extraVolumes=[{"name": "scratch", "emptyDir": "64Mi"}],
                extraVolumeMounts=[{"name": "scratch", "mountPath": "/tmp"}],
            ),
            "agent-platform:services[agent-api].extraVolumeMounts[scratch].mountPath: '/tmp' is already the platform's "
            "mount path in this container",
        ),
        (
            "prod",
            lambda cfg: cfg[SERVICES][0].update(
                extraVolumes=[{"name": "a", "emptyDir": "64Mi"}, {"name": "b", "emptyDir": "64Mi"}],
                extraVolumeMounts=[{"name": "a", "mountPath": "/cache"}, {"name": "b", "mountPath": "/cache/"}],
            ),
            "agent-platform:services[agent-api].extraVolumeMounts[b].mountPath: '/cache/' is already another "
            "mount's mount path in this container",
        ),
    ],
    "LimitRange defaults (ValidateLimitRange)": [
        (
            "prod",
            at("namespace.limitRange", {"defaultRequestMemory": "1Gi", "defaultMemory": "512Mi"}),
            "agent-platform:namespace.limitRange.defaultRequestMemory: must be <= defaultMemory (1Gi > 512Mi)",
        ),
    ],
    "CronJob time zones (validateTimeZone)": [
        (
            "prod",
            at("services[0].checkpointCleanup.timeZone", "Europe/Berln"),
            "agent-platform:services[agent-api].checkpointCleanup.timeZone: must be an IANA time zone such as "
            "Etc/UTC or Europe/Berlin (did you mean Europe/Berlin?), got 'Europe/Berln'",
        ),
        (
            "prod",
            at("services[0].checkpointCleanup.timeZone", "Local"),
            "agent-platform:services[agent-api].checkpointCleanup.timeZone: must be an explicit IANA time zone "
            "such as Etc/UTC, not Local, got 'Local'",
        ),
    ],
    "Docker's minimum memory limit (moby linuxMinMemory)": [
        (
            "local",
            lambda cfg: (
                cfg[SERVICES][0]
                .setdefault("resources", {})
                .update({"requests": {"cpu": "100m", "memory": "2Mi"}, "limits": {"cpu": "1", "memory": "4Mi"}})
            ),
            "agent-platform:services[agent-api].resources.limits.memory: Docker's minimum memory limit is 6Mi, "
            "got '4Mi'",
        ),
    ],
    "IP addresses where an address is required": [
        (
            "prod",
            at("network.nodeLocalDns", "169.254.20.300"),
            "agent-platform:network.nodeLocalDns: must be an IPv4 address such as 169.254.20.10, got '169.254.20.300'",
        ),
        (
            "local",
            at("docker.proxy.bindAddress", "localhost"),
            "agent-platform:docker.proxy.bindAddress: must be an IP address such as 127.0.0.1 or 0.0.0.0, got "
            "'localhost'",
        ),
    ],
    "the key that is wrong is the one blamed": [
        (
            "prod",
            at("services[0].secretEnv", {"OPENAI_API_KEY": "environment"}),
            "agent-platform:services[agent-api].secretEnv.OPENAI_API_KEY: 'environment' is a setting of this stack, "
            "not a secret key: name the secret something else (e.g. 'openai-api-key')",
        ),
    ],
}

VALID = {
    "manifest shapes where the model mirrors a Kubernetes field": [
        (
            "prod",
            at("services[0].envFrom", [{"secretRef": {"name": "vendor-keys"}}, {"configMapRef": {"name": "flags"}}]),
            lambda c: (
                [(e.secret, e.config_map) for e in c.services[0].env_from] == [("vendor-keys", None), (None, "flags")]
            ),
        ),
        (
            "prod",
            at(
                "services[0].extraVolumes",
                [
                    {"name": "prompts", "configMap": {"name": "prompts"}},
                    {"name": "certs", "secret": {"secretName": "certs"}},
                    {"name": "scratch", "emptyDir": {"sizeLimit": "64Mi"}},
                ],
            ),
            lambda c: (
                [(v.config_map, v.secret, v.empty_dir) for v in c.services[0].extra_volumes]
                == [("prompts", None, None), (None, "certs", None), (None, None, "64Mi")]
            ),
        ),
    ],
    "a default object given in part keeps the rest of its default": [
        (
            "prod",
            lambda cfg: (
                cfg[SERVICES][0].pop("resources") and cfg[SERVICES][0].update(resources={"limits": {"memory": "2Gi"}})
            ),
            lambda c: (
                (c.services[0].resources.limits.memory, c.services[0].resources.limits.cpu)
                == ("2Gi", type(c.services[0]).model_fields["resources"].default.limits.cpu)
                and c.services[0].resources.requests == type(c.services[0]).model_fields["resources"].default.requests
            ),
        ),
        (
            "prod",
            at("services[0].probes", {"readiness": {"periodSeconds": 3}}),
            lambda c: (
                (
                    c.services[0].probes.readiness.period_seconds,
                    c.services[0].probes.readiness.path,
                    c.services[0].probes.readiness.failure_threshold,
                )
                == (3, "/readyz", 2)
            ),
        ),
    ],
    "cron schedules robfig accepts": [
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "*/15 0-23/2 1,15 jan-dec mon-fri"),
            lambda c: c.services[0].checkpoint_cleanup.schedule == "*/15 0-23/2 1,15 jan-dec mon-fri",
        ),
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "0 0 ? * SUN"),
            lambda c: c.services[0].checkpoint_cleanup.schedule == "0 0 ? * SUN",
        ),
        (
            "prod",
            at("services[0].checkpointCleanup.schedule", "59 23 31 12 6"),
            lambda c: c.services[0].checkpoint_cleanup.schedule == "59 23 31 12 6",
        ),
    ],
    "tolerations the API server accepts": [
        (
            "prod",
            at("services[0].scheduling.tolerations", [{"operator": "Exists"}]),
            lambda c: c.services[0].scheduling.tolerations[0].key is None,
        ),
        (
            "prod",
            at(
                "services[0].scheduling.tolerations",
                [
                    {
                        "key": "node.kubernetes.io/unreachable",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 60,
                    }
                ],
            ),
            lambda c: c.services[0].scheduling.tolerations[0].toleration_seconds == 60,
        ),
    ],
    "addresses": [
        ("prod", at("network.nodeLocalDns", "169.254.20.10"), lambda c: c.network.node_local_dns == "169.254.20.10"),
        ("local", at("docker.proxy.bindAddress", "0.0.0.0"), lambda c: c.docker.proxy.bind_address == "0.0.0.0"),
        ("local", at("docker.proxy.bindAddress", "::1"), lambda c: c.docker.proxy.bind_address == "::1"),
    ],
    "a quantity written as a number, as a manifest allows": [
        (
            "prod",
            at("services[0].resources.limits.cpu", 2),
            lambda c: c.services[0].resources.limits.cpu == "2",
        ),
        (
            "prod",
            at("services[0].resources.requests.cpu", 0.5),
            lambda c: c.services[0].resources.requests.cpu == "0.5",
        ),
    ],
    "edges of the API server's rules": [
        (
            "prod",
            at("services[0].checkpointCleanup.timeZone", "Etc/UTC"),
            lambda c: c.services[0].checkpoint_cleanup.time_zone == "Etc/UTC",
        ),
        (
            "prod",
            at("namespace.limitRange", {"defaultRequestMemory": "512Mi", "defaultMemory": "512Mi"}),
            lambda c: c.namespace.limit_range.default_request_memory == "512Mi",
        ),
        (
            "prod",
            lambda cfg: cfg[SERVICES][0].update(
                extraVolumes=[{"name": "scratch", "emptyDir": "64Mi"}],
                extraVolumeMounts=[{"name": "scratch", "mountPath": "/tmp/cache"}],
            ),
            lambda c: c.services[0].extra_volume_mounts[0].mount_path == "/tmp/cache",
        ),
    ],
    "the bounds themselves": [
        ("prod", at("services[0].port", 1), lambda c: c.services[0].port == 1),
        ("prod", at("services[0].port", 65535), lambda c: c.services[0].port == 65535),
        ("prod", at("labels", {"team": "a" * 63}), lambda c: c.labels["team"] == "a" * 63),
        ("prod", at("labels", {"example.com/team": "agents"}), lambda c: c.labels["example.com/team"] == "agents"),
        (
            "prod",
            at("network.egress", [{"cidr": "203.0.113.7/32"}]),
            lambda c: c.network.egress[0].cidr == "203.0.113.7/32",
        ),
        ("prod", at("ingress.host", "*.agents.example.com"), lambda c: c.ingress.host == "*.agents.example.com"),
    ],
    "smallest positive sizes": [
        ("prod", at("redis.persistence.size", "1"), lambda c: c.redis.persistence.size == "1"),
    ],
}


def _rows(table):
    return [(group, *row) for group, rows in table.items() for row in rows]


@pytest.mark.parametrize(("group", "stack", "mutate", "expected"), _rows(BAD), ids=[r[3] for r in _rows(BAD)])
def test_a_bad_input_gives_exactly_its_line(tmp_path, group, stack, mutate, expected):
    lines = problems_of(tmp_path, stack, mutate)
    assert len(lines) == 1, lines
    where, _, message = lines[0].partition(": ")
    assert re.fullmatch(rf"Pulumi\.{stack}\.yaml:\d+", where), lines[0]
    assert message == expected


def test_every_bad_scalar_is_shown_in_its_message():
    # Where a row writes one scalar, the user sees it again: as written, or as the model reads it.
    shown = 0
    for _, _, mutate, expected in _rows(BAD):
        value = getattr(mutate, "value", None)
        # (an unknown key's finding is the key itself, which it shows)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and "unknown key" not in expected:
            assert repr(value) in expected or repr(str(value)) in expected or f" {value}" in expected, expected
            shown += 1
    assert shown >= 25  # most rows: the test must not pass by skipping them


@pytest.mark.parametrize(
    ("group", "stack", "mutate", "means"), _rows(VALID), ids=[f"{r[0]}-{i}" for i, r in enumerate(_rows(VALID))]
)
def test_a_valid_edge_case_is_accepted_as_written(tmp_path, group, stack, mutate, means):
    config = run_check(tmp_path, stack, changed(stack, mutate))
    assert means(config)


def test_each_row_changes_the_shipped_stack(tmp_path):
    # A valid row that changed nothing would prove nothing: each must differ from the shipped file.
    for _, stack, mutate, _ in _rows(VALID):
        assert changed(stack, mutate) != yaml.safe_dump(stack_file(stack), sort_keys=False)


MINIMAL = """\
config:
  agent-platform:environment: staging
  agent-platform:kubernetes:
    context: staging
  agent-platform:namespace:
    name: agents-staging
  agent-platform:services:
    - name: agent-api
      image: ghcr.io/acme/agent:1.4.2
    - name: agent-runner
      image: ghcr.io/acme/agent:1.4.2
      ingress:
        enabled: false
"""

FIVE_PROBLEMS = """\
config:
  agent-platform:environment: staging
  agent-platform:exposure: gatewayApi
  agent-platform:kubernetes:
    context: staging
  agent-platform:namespace:
    name: agents-staging
  agent-platform:services:
    - name: agent-api
      image: ghcr.io/acme/agent:1.4.2
      replicaz: 3
      env:
        RUNNER_CONCURRENCY: 8
    - name: agent-runner
      image: ghcr.io/acme/agent:1.4.2
      port: eighty
      ingress:
        enabled: false
      sidecars:
        - name: envoy
          image: envoyproxy/envoy:v1.30.1
"""


def test_the_minimal_stack_of_these_tests_is_valid(tmp_path):
    assert [s.name for s in run_check(tmp_path, "staging", MINIMAL).services] == ["agent-api", "agent-runner"]


def test_five_unrelated_problems_at_every_level_in_one_run_each_on_its_line(tmp_path):
    with pytest.raises(ProgramError) as error:
        run_check(tmp_path, "staging", FIVE_PROBLEMS)
    assert str(error.value).splitlines() == [
        # the whole stack's check (exposure gatewayApi without a gateway) runs although services hold
        # field errors; it points at the config, the key being absent
        "Pulumi.staging.yaml:1: agent-platform:gateway: is required when exposure is gatewayApi",
        "Pulumi.staging.yaml:11: agent-platform:services[agent-api].replicaz: unknown key (did you mean replicas?)",
        "Pulumi.staging.yaml:13: agent-platform:services[agent-api].env.RUNNER_CONCURRENCY: Input should be a valid "
        'string, got 8 (quote it: "8")',
        "Pulumi.staging.yaml:16: agent-platform:services[agent-runner].port: Input should be a valid integer, unable "
        "to parse string as an integer, got 'eighty'",
        # a service's own check runs beside a field error in the same service
        "Pulumi.staging.yaml:20: agent-platform:services[agent-runner].sidecars[envoy].probe: is required: a "
        "long-running container needs a health check",
    ]


def test_a_cross_field_check_about_a_bad_key_is_left_out(tmp_path):
    # maxReplicas is unusable: the min <= max check would judge its default (10), not what was written.
    text = MINIMAL.replace(
        "    - name: agent-runner\n",
        "      autoscaling:\n        minReplicas: 12\n        maxReplicas: ten\n    - name: agent-runner\n",
    )
    with pytest.raises(ProgramError) as error:
        run_check(tmp_path, "staging", text)
    assert str(error.value).splitlines() == [
        "Pulumi.staging.yaml:12: agent-platform:services[agent-api].autoscaling.maxReplicas: Input should be a valid "
        "integer, unable to parse string as an integer, got 'ten'"
    ]


def test_problems_come_in_file_order_not_model_order(tmp_path):
    text = MINIMAL.replace("  agent-platform:environment: staging\n", "  agent-platform:environment: Staging\n")
    text = text.replace("      ingress:\n        enabled: false\n", "      ingress:\n        enabled: nope\n")
    with pytest.raises(ProgramError) as error:
        run_check(tmp_path, "staging", text)
    lines = str(error.value).splitlines()
    assert [int(line.split(":")[1]) for line in lines] == [2, 13], lines
    assert "got 'Staging'" in lines[0] and "got 'nope'" in lines[1]


def test_the_readme_error_example_is_what_the_preview_prints(tmp_path):
    readme = (ROOT / "README.md").read_text()
    [example] = re.findall(r"^error: (Pulumi\.prod\.yaml:\d+: .*)$", readme, flags=re.M)
    # The shipped file edited as a user would, in place: its lines stay where they are.
    text = (ROOT / "Pulumi.prod.yaml").read_text()
    runner = text.index("- name: agent-runner")
    edited = text[:runner] + text[runner:].replace("minReplicas: 3", "minReplicas: 12", 1)
    with pytest.raises(ProgramError) as error:
        run_check(tmp_path, "prod", edited)
    assert str(error.value) == example


def test_a_key_written_in_snake_case_is_found_on_its_own_line(tmp_path):
    text = MINIMAL.replace(
        "    - name: agent-runner\n", "      autoscaling:\n        min_replicas: 30\n    - name: agent-runner\n"
    )
    with pytest.raises(ProgramError) as error:
        run_check(tmp_path, "staging", text)
    assert str(error.value) == (
        "Pulumi.staging.yaml:11: agent-platform:services[agent-api].autoscaling.minReplicas: must be <= maxReplicas "
        "(30 > 10)"
    )


def test_the_program_itself_points_at_the_line_when_the_cli_runs_it(tmp_path):
    # Under `pulumi up` the program sees only the engine's flat config; the stack file is in the
    # project directory, where the CLI runs it, so its problems come on their lines there too.
    from preview.engine import run_program
    from preview.stackfile import read_stack_config
    from tests.preview.test_cli import _project_copy

    project = _project_copy(tmp_path)
    text = (
        (ROOT / "Pulumi.dev.yaml")
        .read_text()
        .replace("agent-platform:environment: dev", "agent-platform:environment: Dev")
    )
    (project / "Pulumi.dev.yaml").write_text(text)
    inputs = read_stack_config(project, "dev")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "environment: Dev" in row)
    with pytest.raises(ProgramError) as error:
        run_program(project, inputs.project, "dev", inputs.config, inputs.secret_keys)
    assert str(error.value).startswith(f"Pulumi.dev.yaml:{line}: agent-platform:environment: must be a lowercase")
