"""Fits real clusters: every option of #16 on at once, then each option's effect on its own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT, capture_with, objects, stack_file

ROLE_ARN = "arn:aws:iam::123456789012:role/agent-api"
SIDECAR_IMAGE = "registry.example.com/agents/otel-collector:0.110.0@sha256:" + "e" * 64


def everything_on(cfg: dict) -> None:
    p = "agent-platform:"
    cfg[p + "imagePullSecrets"] = ["regcred"]
    cfg[p + "registry"] = "registry.example.com/mirror"
    cfg[p + "labels"] = {"team": "agents", "example.com/cost-center": "ai-42"}
    cfg[p + "annotations"] = {"example.com/owner": "agents@example.com"}
    cfg[p + "kubernetes"]["clusterDomain"] = "corp.internal"
    cfg.setdefault(p + "network", {})["nodeLocalDns"] = "169.254.20.10"
    api, runner = cfg[p + "services"][0], cfg[p + "services"][1]
    api["serviceAccount"] = {"annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN}}
    runner["serviceAccount"] = {"name": "existing-runner"}
    runner["autoscaling"].update(engine="keda", keda={"trigger": "redis", "targetValue": 5})
    api["scheduling"] = {
        "nodeSelector": {"node.kubernetes.io/instance-type": "m6i.xlarge"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "agents", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}
                    ]
                }
            }
        },
        "priorityClassName": "agents-high",
    }
    api["podLabels"] = {"example.com/tier": "api"}
    api["podAnnotations"] = {"example.com/runbook": "https://runbooks.example.com/agent-api"}
    api["envFrom"] = [{"configMap": "shared-settings"}, {"secret": "vendor-keys", "prefix": "VENDOR_"}]
    api["extraEnv"] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "TOOL_TOKEN", "valueFrom": {"secretKeyRef": {"name": "tool-creds", "key": "token"}}},
    ]
    api["extraVolumes"] = [{"name": "prompts", "configMap": "agent-prompts"}, {"name": "cache", "emptyDir": "128Mi"}]
    api["extraVolumeMounts"] = [{"name": "prompts", "mountPath": "/etc/prompts"}]
    api["initContainers"] = [
        {
            "name": "fetch-prompts",
            "image": SIDECAR_IMAGE,
            "command": ["sh", "-c", "cp /etc/prompts/* /cache/"],
            "volumeMounts": [
                {"name": "prompts", "mountPath": "/etc/prompts"},
                {"name": "cache", "mountPath": "/cache", "readOnly": False},
            ],
        }
    ]
    api["sidecars"] = [
        {
            "name": "otel",
            "image": SIDECAR_IMAGE,
            "args": ["--config=/etc/otel/config.yaml"],
            "probe": {"path": "/health", "port": 13133},
        }
    ]
    # The StatefulSet mode's knobs (pod labels, probes, mounts); the CloudNativePG mode prod ships
    # is fitted in tests/components/k8s/test_cloudnativepg.py.
    cfg[p + "postgres"] = {
        k: v for k, v in cfg[p + "postgres"].items() if k not in ("mode", "instances", "backup", "image")
    }
    for store in ("postgres", "redis"):
        cfg[p + store]["scheduling"] = {
            "nodeSelector": {"example.com/pool": "data"},
            "tolerations": [{"key": "data", "operator": "Exists", "effect": "NoSchedule"}],
        }
        cfg[p + store]["podLabels"] = {"example.com/tier": "data"}


@pytest.fixture(scope="module")
def fit_capture(tmp_path_factory):
    return capture_with(tmp_path_factory.mktemp("fit"), "prod", everything_on)


@pytest.fixture(scope="module")
def fit(fit_capture):
    return objects(fit_capture)


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def test_everything_on_validates_and_draws_no_mandatory_violation(tmp_path):
    data = stack_file("prod")
    everything_on(data["config"])
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text(yaml.safe_dump(data))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "preview",
            "prod",
            "--config-file",
            str(stack),
            "--out",
            str(tmp_path / "out"),
            "--format",
            "json",
            "--k8s-version",
            "1.29,1.37",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "policy-report.json").read_text())
    assert report["mandatoryFailed"] is False
    assert [v for v in report["violations"] if v["level"] == "mandatory"] == []


def test_image_pull_secrets_and_registry_on_every_pod(fit):
    for kind, name in (
        ("Deployment", "agent-api"),
        ("StatefulSet", "agent-runner"),
        ("StatefulSet", "postgres"),
        ("StatefulSet", "redis"),
    ):
        spec = pod_spec(fit[(kind, name)])
        assert spec["imagePullSecrets"] == [{"name": "regcred"}], name
        assert spec["containers"][0]["image"].startswith("registry.example.com/"), name
    postgres = pod_spec(fit[("StatefulSet", "postgres")])["containers"][0]["image"]
    assert postgres.startswith("registry.example.com/mirror/postgres:16")


def test_registry_leaves_fully_qualified_images_alone():
    from agent_platform.settings.values import with_registry

    assert with_registry("ghcr.io/acme/agent:1.0", "registry.example.com/m") == "ghcr.io/acme/agent:1.0"
    assert with_registry("localhost:5000/agent:1.0", "registry.example.com/m") == "localhost:5000/agent:1.0"
    assert with_registry("acme/agent:1.0", "registry.example.com/m") == "registry.example.com/m/acme/agent:1.0"
    assert with_registry("redis:7", None) == "redis:7"


def test_workload_identity_annotation_and_existing_service_account(fit):
    sa = fit[("ServiceAccount", "agent-api")]
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE_ARN
    assert ("ServiceAccount", "agent-runner") not in fit
    assert pod_spec(fit[("StatefulSet", "agent-runner")])["serviceAccountName"] == "existing-runner"
    assert pod_spec(fit[("StatefulSet", "agent-runner")])["automountServiceAccountToken"] is False


def test_scheduling_keeps_the_platform_spread_and_adds_the_callers_terms(fit):
    spec = pod_spec(fit[("Deployment", "agent-api")])
    assert spec["nodeSelector"] == {"node.kubernetes.io/instance-type": "m6i.xlarge"}
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "agents", "effect": "NoSchedule"}]
    assert spec["priorityClassName"] == "agents-high"
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["amd64"]
    assert spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"] == 100
    assert spec["topologySpreadConstraints"]
    for store in ("postgres", "redis"):
        s = pod_spec(fit[("StatefulSet", store)])
        assert s["nodeSelector"] == {"example.com/pool": "data"} and s["tolerations"][0]["operator"] == "Exists"


def test_common_labels_and_annotations_on_every_object_never_on_selectors(fit):
    for (kind, name), obj in fit.items():
        assert obj["metadata"]["labels"]["team"] == "agents", (kind, name)
        assert obj["metadata"]["annotations"]["example.com/owner"] == "agents@example.com", (kind, name)
    deployment = fit[("Deployment", "agent-api")]
    assert "team" not in deployment["spec"]["selector"]["matchLabels"]
    assert "team" not in fit[("Service", "agent-api")]["spec"]["selector"]


def test_pod_labels_and_annotations(fit):
    template = fit[("Deployment", "agent-api")]["spec"]["template"]["metadata"]
    assert template["labels"]["example.com/tier"] == "api"
    assert template["annotations"]["example.com/runbook"].startswith("https://")
    assert "checksum/config" in template["annotations"]
    assert fit[("StatefulSet", "postgres")]["spec"]["template"]["metadata"]["labels"]["example.com/tier"] == "data"


def test_env_from_and_value_from(fit):
    container = pod_spec(fit[("Deployment", "agent-api")])["containers"][0]
    assert {"secretRef": {"name": "vendor-keys"}, "prefix": "VENDOR_"} in container["envFrom"]
    assert {"configMapRef": {"name": "shared-settings"}} in container["envFrom"]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["TOOL_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "tool-creds", "key": "token"}}


def test_cluster_domain_in_data_store_hosts(fit_capture):
    assert fit_capture.outputs["postgresHost"] == "postgres.agents-prod.svc.corp.internal"
    assert fit_capture.outputs["redisHost"] == "redis.agents-prod.svc.corp.internal"


def test_node_local_dns_egress(fit):
    dns = fit[("NetworkPolicy", "allow-dns")]
    peers = [peer for rule in dns["spec"]["egress"] for peer in rule["to"]]
    assert {"ipBlock": {"cidr": "169.254.20.10/32"}} in peers


def test_bad_options_are_refused_by_key(tmp_path):
    from agent_platform.settings.errors import ConfigError

    from program.stack_config import parse_stack_config

    values = {k.split(":", 1)[1]: v for k, v in stack_file("prod")["config"].items()}
    values["labels"] = {"app.kubernetes.io/name": "x"}
    values["services"][0]["scheduling"] = {"affinity": {"nodeAfinity": {}}}
    with pytest.raises(ConfigError) as error:
        parse_stack_config(values, "Pulumi.prod.yaml")
    text = str(error.value)
    assert "agent-platform:labels.app.kubernetes.io/name: is owned by the platform" in text
    assert "services[agent-api].scheduling.affinity.nodeAfinity: unknown key" in text


def test_cluster_stack_feeds_the_provider_a_secret_kubeconfig(tmp_path):
    def from_stack(cfg):
        cfg["agent-platform:kubernetes"].pop("kubeconfig", None)
        cfg["agent-platform:kubernetes"]["clusterStack"] = "acme/infra/prod"

    capture = capture_with(tmp_path, "prod", from_stack)
    # A StackReference is a read (ReadResource), not a registration: what shows is its value,
    # the offline stand-in for the other stack's output, reaching the provider as a secret.
    [provider] = capture.by_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]" and provider.secret_paths == ["kubeconfig"]
    assert "acme/infra/prod" in provider.raw_inputs["kubeconfig"]
    [plain] = shipped_provider()
    assert "kubeconfig" not in plain.inputs


def shipped_provider():
    from tests.conftest import shipped

    return shipped("prod").by_type("pulumi:providers:kubernetes")


def test_an_esc_environment_is_reported_not_ignored(tmp_path):
    data = stack_file("prod")
    data["environment"] = ["acme/agents-prod"]
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text(yaml.safe_dump(data))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "preview",
            "prod",
            "--config-file",
            str(stack),
            "--out",
            str(tmp_path / "out"),
            "--no-policy",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    line = next(i for i, t in enumerate(stack.read_text().splitlines(), 1) if t.startswith("environment:"))
    where = f"error: {stack}:{line}: environment:"
    assert result.stderr.startswith(f"{where} imports acme/agents-prod, which only Pulumi ESC")
    assert "--esc-values acme/agents-prod=" in result.stderr  # how to preview it offline (docs/deploying.md)
    assert not (tmp_path / "out").exists()


def test_sidecars_and_init_containers_are_hardened_like_the_app(fit):
    spec = pod_spec(fit[("Deployment", "agent-api")])
    app, otel = spec["containers"]
    [init] = spec["initContainers"]
    assert otel["name"] == "otel" and init["name"] == "fetch-prompts"
    for c in (otel, init):
        assert c["securityContext"] == app["securityContext"], c["name"]
        assert c["resources"]["limits"] == {"cpu": "200m", "memory": "128Mi"}
    assert otel["livenessProbe"]["httpGet"] == {"path": "/health", "port": 13133}
    assert otel["livenessProbe"] != otel["readinessProbe"]
    assert "livenessProbe" not in init
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["prompts"] == {"name": "prompts", "configMap": {"name": "agent-prompts"}}
    assert volumes["cache"]["emptyDir"] == {"sizeLimit": "128Mi"}
    assert {"name": "prompts", "mountPath": "/etc/prompts", "readOnly": True} in app["volumeMounts"]


def test_sidecars_need_a_probe_and_mounts_need_a_volume():
    from agent_platform.settings.errors import ConfigError

    from program.stack_config import parse_stack_config

    values = {k.split(":", 1)[1]: v for k, v in stack_file("prod")["config"].items()}
    values["services"][0]["sidecars"] = [{"name": "proxy", "image": SIDECAR_IMAGE}]
    values["services"][0]["extraVolumeMounts"] = [{"name": "nowhere", "mountPath": "/x"}]
    with pytest.raises(ConfigError) as error:
        parse_stack_config(values, "Pulumi.prod.yaml")
    assert "services[agent-api].sidecars[proxy].probe: is required" in str(error.value)
    values["services"][0]["sidecars"][0]["probe"] = {"command": ["true"]}
    with pytest.raises(ConfigError) as error:
        parse_stack_config(values, "Pulumi.prod.yaml")
    assert "services[agent-api].extraVolumeMounts[0].name: 'nowhere' is not a volume of extraVolumes" in str(
        error.value
    )


def test_existing_secrets_mode_reads_keys_from_the_teams_secret(tmp_path):
    def existing(cfg):
        cfg["agent-platform:secrets"] = {"mode": "existing", "existingSecret": "agents-vault-sync"}
        cfg["agent-platform:postgres"].update(mode="external", externalUrlKey="postgresUrl")

    capture = capture_with(tmp_path, "prod", existing)
    objs = objects(capture)
    assert ("Secret", "agent-api") not in objs and ("Secret", "postgres-connection") not in objs
    env = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in pod_spec(objs[("Deployment", "agent-api")])["containers"][0]["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert env["OPENAI_API_KEY"] == {"name": "agents-vault-sync", "key": "openaiApiKey"}
    assert env["DATABASE_URL"] == {"name": "agents-vault-sync", "key": "postgresUrl"}
    assert env["REDIS_URL"] == {"name": "redis-connection", "key": "REDIS_URL"}  # in-cluster: generated, managed here
    from program.stack_config import parse_stack_config

    values = {k.split(":", 1)[1]: v for k, v in stack_file("prod")["config"].items()}
    assert parse_stack_config(values).secret_keys() == ["langsmithApiKey", "openaiApiKey"]
    # Nothing to `pulumi config set --secret`: the keys live in the existing Secret.
    assert parse_stack_config({**values, "secrets": {"mode": "existing"}}).secret_keys() == []


def test_keda_scales_on_pending_runs_instead_of_an_hpa(fit):
    assert ("HorizontalPodAutoscaler", "agent-runner") not in fit
    scaled = fit[("ScaledObject", "agent-runner")]["spec"]
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "agent-runner"}
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (3, 10)
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "redis" and trigger["metadata"]["listLength"] == "5"
    assert trigger["authenticationRef"] == {"name": "agent-runner-scaler"}
    auth = fit[("TriggerAuthentication", "agent-runner-scaler")]["spec"]["secretTargetRef"]
    assert auth == [{"parameter": "password", "name": "redis-connection", "key": "password"}]
    assert "replicas" not in fit[("StatefulSet", "agent-runner")]["spec"]
    # The same slow scale-down as the HPA, and the operator may ask Redis, nobody else new.
    assert scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["selectPolicy"] == "Min"
    peers = fit[("NetworkPolicy", "redis")]["spec"]["ingress"][0]["from"]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}},
        # KEDA's release manifest labels the operator `app` only (agent_platform/operators.py PEERS).
        "podSelector": {"matchLabels": {"app": "keda-operator"}},
    } in peers
    assert len(fit[("NetworkPolicy", "postgres")]["spec"]["ingress"][0]["from"]) == 1
    assert ("HorizontalPodAutoscaler", "agent-api") in fit


def gateway_and_external_secrets(cfg: dict) -> None:
    p = "agent-platform:"
    cfg[p + "exposure"] = "gatewayApi"
    cfg[p + "gateway"] = {"name": "public", "namespace": "gateways", "sectionName": "https"}
    cfg[p + "secrets"] = {
        "mode": "externalSecrets",
        "secretStoreRef": {"name": "vault"},
        "remoteKeyPrefix": "agents/prod/",
    }
    cfg[p + "services"][0]["rollout"] = {
        "strategy": "canary",
        "canary": {"image": "registry.example.com/agents/agent-api:1.5.0@sha256:" + "c" * 64, "weight": 10},
    }


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    return objects(capture_with(tmp_path_factory.mktemp("gw"), "prod", gateway_and_external_secrets))


def test_gateway_api_route_on_the_https_listener_with_streaming_timeouts(gateway):
    assert not any(kind == "Ingress" for kind, _ in gateway)
    spec = gateway[("HTTPRoute", "agent-platform")]["spec"]
    assert spec["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "public",
            "namespace": "gateways",
            "sectionName": "https",
        }
    ]
    assert spec["hostnames"] == ["agents.example.com"]
    [rule] = [r for r in spec["rules"] if r["backendRefs"][0]["name"] == "agent-api"]
    assert rule["timeouts"] == {"request": "3600s", "backendRequest": "3600s"}
    # The canary is a weighted backend of the same rule.
    assert rule["backendRefs"] == [
        {"name": "agent-api", "port": 80, "weight": 90},
        {"name": "agent-api-canary", "port": 80, "weight": 10},
    ]


def test_external_secrets_declare_the_secret_the_pods_read(gateway):
    spec = gateway[("ExternalSecret", "agent-platform-secrets")]["spec"]
    assert spec["secretStoreRef"] == {"name": "vault", "kind": "ClusterSecretStore"}
    assert spec["target"] == {"name": "agent-platform-secrets", "creationPolicy": "Owner"}
    assert {d["secretKey"]: d["remoteRef"]["key"] for d in spec["data"]} == {
        "langsmithApiKey": "agents/prod/langsmithApiKey",
        "openaiApiKey": "agents/prod/openaiApiKey",
    }
    env = {
        e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
        for e in pod_spec(gateway[("Deployment", "agent-api")])["containers"][0]["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert env["OPENAI_API_KEY"] == "agent-platform-secrets" and ("Secret", "agent-api") not in gateway


def test_gateway_and_external_secrets_validate_and_pass_the_pack(tmp_path):
    data = stack_file("prod")
    gateway_and_external_secrets(data["config"])
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text(yaml.safe_dump(data))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "preview",
            "prod",
            "--config-file",
            str(stack),
            "--out",
            str(tmp_path / "out"),
            "--k8s-version",
            "1.29,1.37",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "invalid:" not in result.stdout + result.stderr
    assert json.loads((tmp_path / "out" / "policy-report.json").read_text())["mandatoryFailed"] is False
