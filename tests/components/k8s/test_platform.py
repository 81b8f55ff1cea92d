"""The Kubernetes stack as the real program declares it for the shipped dev and prod stack files."""

from __future__ import annotations

import copy
import json
import re

import jsonschema
import pytest
import yaml

from preview.render import render_files
from tests.conftest import ROOT, capture_with, objects, shipped

COMMON = {
    ("Namespace", "agents-{env}"),
    ("ResourceQuota", "quota"),
    ("LimitRange", "limits"),
    ("NetworkPolicy", "default-deny"),
    ("NetworkPolicy", "allow-dns"),
    ("ServiceAccount", "agent-api"),
    ("ConfigMap", "agent-api"),
    ("Secret", "agent-api"),
    ("Deployment", "agent-api"),
    ("Service", "agent-api"),
    ("NetworkPolicy", "agent-api"),
    ("ServiceAccount", "agent-runner"),
    ("ConfigMap", "agent-runner"),
    ("Secret", "agent-runner"),
    ("StatefulSet", "agent-runner"),
    ("Service", "agent-runner-headless"),
    ("NetworkPolicy", "agent-runner"),
    ("Secret", "postgres-connection"),
    ("Secret", "redis-connection"),
    ("StatefulSet", "redis"),
    ("Service", "redis"),
    ("NetworkPolicy", "redis"),
    ("Ingress", "agent-platform"),
}
PROD_ONLY = {
    ("HorizontalPodAutoscaler", "agent-api"),
    ("PodDisruptionBudget", "agent-api"),
    ("HorizontalPodAutoscaler", "agent-runner"),
    ("PodDisruptionBudget", "agent-runner"),
    # The migration Job is named after the image it migrates for (sha256 of the reference, 8 hex).
    ("Job", "agent-api-migrate-7de72673"),
    ("NetworkPolicy", "agent-api-migrate"),
    ("CronJob", "agent-api-cleanup"),
    ("NetworkPolicy", "agent-api-cleanup"),
    # The jobs' own ServiceAccount: never the service's (workload-identity) one.
    ("ServiceAccount", "agent-api-jobs"),
    ("ServiceMonitor", "agent-platform"),
    ("PrometheusRule", "agent-platform"),
    # monitoring.dashboards: the two dashboards, for the Grafana sidecar.
    ("ConfigMap", "agent-platform-dashboard-agent-services"),
    ("ConfigMap", "agent-platform-dashboard-data-stores"),
    # Nothing calls the runner (no allowFrom, no ingress): its Service carries only the metrics port
    # Prometheus scrapes, so dev, which does not scrape, has none.
    ("Service", "agent-runner"),
    # Postgres as CloudNativePG (postgres.mode: cloudnativepg in Pulumi.prod.yaml).
    ("Secret", "postgres-app-credentials"),
    ("Cluster", "postgres"),
    ("ObjectStore", "postgres-backups"),
    ("ScheduledBackup", "postgres-scheduled"),
    ("Pooler", "postgres-pooler-rw"),
    ("NetworkPolicy", "postgres-instances"),
    ("NetworkPolicy", "postgres-pooler"),
    ("Backup", "agent-api-migrate-7de72673-backup"),
    ("PodMonitor", "postgres"),
    ("PrometheusRule", "postgres-durability"),
    ("ServiceAccount", "restore-drill"),
    ("Role", "restore-drill"),
    ("RoleBinding", "restore-drill"),
    ("ConfigMap", "restore-drill"),
    ("CronJob", "restore-drill"),
    ("NetworkPolicy", "restore-drill"),
}
# Postgres as a StatefulSet (dev keeps postgres.mode inCluster).
DEV_ONLY = {("StatefulSet", "postgres"), ("Service", "postgres"), ("NetworkPolicy", "postgres")}


def expected(env: str) -> set[tuple[str, str]]:
    base = {(k, n.format(env=env)) for k, n in COMMON}
    return base | PROD_ONLY if env == "prod" else base | DEV_ONLY


def workloads(objs):
    return {key: o for key, o in objs.items() if key[0] in ("Deployment", "StatefulSet")}


def agent_workloads(objs):
    return {key: o for key, o in workloads(objs).items() if key[1].startswith("agent-")}


def test_exact_object_set(stack, capture):
    assert set(objects(capture)) == expected(stack)


def test_component_tree_and_type_tokens(capture):
    types = {r.type for r in capture.resources if not r.custom}
    assert types == {
        "agent-platform:k8s:AgentPlatform",
        "agent-platform:k8s:AgentNamespace",
        "agent-platform:k8s:AgentService",
        "agent-platform:k8s:Postgres",
        "agent-platform:k8s:Redis",
        "agent-platform:k8s:AgentIngress",
    }
    components = {r.urn for r in capture.resources if not r.custom}
    for r in capture.resources:
        if r.custom and r.type.startswith("kubernetes:"):
            assert r.parent in components, f"{r.type} {r.name} is not a child of a component"


def test_every_kubernetes_object_uses_the_explicit_provider(stack, capture):
    provider = capture.get("pulumi:providers:kubernetes", "cluster")
    assert provider.inputs["context"] == f"{stack}-cluster"
    for r in capture.resources:
        if r.custom and r.type.startswith("kubernetes:"):
            assert r.provider == provider.name + "-provider-id", (r.type, r.name)


def test_namespace_pod_security_and_quota(stack, capture):
    objs = objects(capture)
    ns = objs[("Namespace", f"agents-{stack}")]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns["metadata"]["labels"]["app.kubernetes.io/part-of"] == "agent-platform"
    hard = objs[("ResourceQuota", "quota")]["spec"]["hard"]
    assert {"requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "pods"} <= set(hard)
    assert hard["services.loadbalancers"] == "0"
    for (kind, _), obj in objs.items():
        if kind != "Namespace":
            assert obj["metadata"]["namespace"] == f"agents-{stack}"


def test_probes_are_distinct_and_follow_the_app_contract(capture):
    for key, obj in agent_workloads(objects(capture)).items():
        c = obj["spec"]["template"]["spec"]["containers"][0]
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", key
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", key
        assert "startupProbe" in c, key
        probes = [json.dumps(c[p], sort_keys=True) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        assert len(set(probes)) == 3, key


def test_datastore_probes_use_native_checks(stack, capture):
    objs = objects(capture)
    if stack == "dev":  # prod's instances are probed by the CloudNativePG instance manager
        pg = objs[("StatefulSet", "postgres")]["spec"]["template"]["spec"]["containers"][0]
        assert pg["readinessProbe"]["exec"]["command"][0] == "pg_isready"
        assert pg["livenessProbe"] != pg["readinessProbe"]
    redis = objs[("StatefulSet", "redis")]["spec"]["template"]["spec"]["containers"][0]
    assert "redis-cli" in " ".join(redis["readinessProbe"]["exec"]["command"])


def test_restricted_security_context_everywhere(capture):
    for key, obj in workloads(objects(capture)).items():
        spec = obj["spec"]["template"]["spec"]
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] >= 10000 and psc["runAsGroup"] >= 10000, key
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", key
        assert spec["automountServiceAccountToken"] is False, key
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, key
            assert sc["readOnlyRootFilesystem"] is True, key
            assert sc["capabilities"]["drop"] == ["ALL"], key
            assert sc["runAsUser"] >= 10000, key
            assert set(c["resources"]["requests"]) == {"cpu", "memory"} == set(c["resources"]["limits"]), key
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]), key


def test_service_accounts_do_not_mount_tokens(capture):
    for (kind, name), obj in objects(capture).items():
        if kind == "ServiceAccount":
            assert obj["automountServiceAccountToken"] is False, name


def test_rolling_update_never_drops_below_capacity(capture):
    deploy = objects(capture)[("Deployment", "agent-api")]
    assert deploy["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }


def test_graceful_drain(stack, capture):
    for key, obj in agent_workloads(objects(capture)).items():
        spec = obj["spec"]["template"]["spec"]
        c = spec["containers"][0]
        sleep = int(c["lifecycle"]["preStop"]["exec"]["command"][1])
        assert sleep > 0 and spec["terminationGracePeriodSeconds"] > sleep, key
    if stack == "prod":
        api = objects(capture)[("Deployment", "agent-api")]["spec"]["template"]["spec"]
        assert api["terminationGracePeriodSeconds"] >= 300  # streamed agent runs


def test_hpa_owns_replicas_in_prod_fixed_replicas_in_dev(stack, capture):
    objs = objects(capture)
    for name, kind in (("agent-api", "Deployment"), ("agent-runner", "StatefulSet")):
        workload = objs[(kind, name)]
        if stack == "prod":
            assert "replicas" not in workload["spec"], name
            hpa = objs[("HorizontalPodAutoscaler", name)]["spec"]
            assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": kind, "name": name}
            assert hpa["minReplicas"] >= 3 and hpa["maxReplicas"] > hpa["minReplicas"]
            assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
            assert {m["resource"]["name"] for m in hpa["metrics"]} >= {"cpu"}
        else:
            assert workload["spec"]["replicas"] == 1
            assert ("HorizontalPodAutoscaler", name) not in objs


def test_pdb_allows_a_disruption_at_the_hpa_minimum(capture):
    objs = objects(capture)
    for (kind, name), pdb in objs.items():
        if kind != "PodDisruptionBudget":
            continue
        hpa = objs[("HorizontalPodAutoscaler", name)]["spec"]
        spec = pdb["spec"]
        if "minAvailable" in spec:
            assert spec["minAvailable"] < hpa["minReplicas"]
        else:
            assert spec["maxUnavailable"] >= 1
        workload = objs.get(("Deployment", name)) or objs[("StatefulSet", name)]
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()


def test_topology_spread_and_anti_affinity_only_where_configured(stack, capture):
    for key, obj in agent_workloads(objects(capture)).items():
        spec = obj["spec"]["template"]["spec"]
        if stack == "prod":
            assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone", key
            term = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
            assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname", key
        else:
            assert "topologySpreadConstraints" not in spec and "affinity" not in spec, key


def test_connection_urls_reach_the_app_through_secret_refs(capture):
    for key, obj in agent_workloads(objects(capture)).items():
        env = {e["name"]: e for e in obj["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "postgres-connection",
            "key": "DATABASE_URL",
        }, key
        assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "redis-connection", "key": "REDIS_URL"}, key
        assert env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == key[1]
        assert all("value" not in e for e in env.values()), key


def test_secrets_stay_pulumi_secrets(stack, capture):
    for r in capture.resources:
        if r.type == "kubernetes:core/v1:Secret":
            assert r.secret_paths == ["stringData"], r.name
    pw = capture.get("kubernetes:core/v1:Secret", "postgres-connection").raw_inputs["stringData"]
    if stack == "prod":  # the password is the owner role's, in the basic-auth Secret the Cluster bootstraps with
        password = capture.get("kubernetes:core/v1:Secret", "postgres-app-credentials").raw_inputs["stringData"]
        pw = {**pw, "password": password["password"]}
    assert pw["DATABASE_URL"].startswith("postgresql://agent:") and pw["password"] in pw["DATABASE_URL"]
    # A ConfigMap holds no secret input.
    for r in capture.by_type("kubernetes:core/v1:ConfigMap"):
        assert r.secret_paths == []


def test_no_secret_value_in_rendered_files_or_outputs(capture):
    files = render_files(capture)
    assert capture.secret_values, "the mocks saw no secret at all"
    text = "\n".join(files.values()) + json.dumps(capture.outputs)
    for value in capture.secret_values:
        if len(value) >= 8:
            assert value not in text


def test_config_change_rolls_the_pods(tmp_path):
    before = objects(shipped("dev"))[("Deployment", "agent-api")]

    def bump(cfg):
        cfg["agent-platform:services"][0]["env"]["LOG_LEVEL"] = "info"

    after = objects(capture_with(tmp_path, "dev", bump))[("Deployment", "agent-api")]
    key = "checksum/config"
    assert (
        before["spec"]["template"]["metadata"]["annotations"][key]
        != after["spec"]["template"]["metadata"]["annotations"][key]
    )


def test_network_policies_are_least_privilege(stack, capture):
    objs = copy.deepcopy(objects(capture))  # the monitoring rule is set aside below
    deny = objs[("NetworkPolicy", "default-deny")]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = objs[("NetworkPolicy", "allow-dns")]["spec"]["egress"][0]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}

    api = objs[("NetworkPolicy", "agent-api")]["spec"]
    # prod's monitoring: Prometheus's namespace, on the metrics port only (checked here, then set aside).
    monitoring = {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"port": 9090, "protocol": "TCP"}],
    }
    for name in ("agent-api", "agent-runner"):
        rules = objs[("NetworkPolicy", name)]["spec"].get("ingress") or []
        assert (monitoring in rules) == (stack == "prod"), name
        objs[("NetworkPolicy", name)]["spec"]["ingress"] = [r for r in rules if r != monitoring]
    assert api["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "agent-api"
    assert api["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    assert api["ingress"][0]["ports"] == [{"port": 8000, "protocol": "TCP"}]
    egress = {(json.dumps(r["to"], sort_keys=True), tuple(p["port"] for p in r["ports"])) for r in api["egress"]}
    ports = sorted(p for _, ps in egress for p in ps)
    assert ports == [443, 5432, 6379]
    # The runner is not exposed: nothing may reach it.
    assert objs[("NetworkPolicy", "agent-runner")]["spec"]["ingress"] == []

    for store, port in (("postgres", 5432), ("redis", 6379)):
        if (stack, store) == ("prod", "postgres"):
            continue  # tests/components/k8s/test_cloudnativepg.py: the instances' and the pooler's policies
        spec = objs[("NetworkPolicy", store)]["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"] and "egress" not in spec
        rule = spec["ingress"][0]
        label = f"agent-platform.io/client-of-{store}"
        assert rule["from"] == [{"podSelector": {"matchLabels": {label: "true"}}}]
        assert rule["ports"] == [{"port": port, "protocol": "TCP"}]
        for key, obj in agent_workloads(objs).items():
            assert obj["spec"]["template"]["metadata"]["labels"][label] == "true", key


def test_ingress_tls_and_streaming_annotations(stack, capture):
    ing = objects(capture)[("Ingress", "agent-platform")]
    ann = ing["metadata"]["annotations"]
    assert int(ann["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(ann["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    assert ann["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert ann["nginx.ingress.kubernetes.io/proxy-body-size"] == "50m"
    assert ann["cert-manager.io/cluster-issuer"] == ("letsencrypt" if stack == "prod" else "letsencrypt-staging")
    host = "agents.example.com" if stack == "prod" else "agents.dev.example.com"
    assert ing["spec"]["tls"] == [{"hosts": [host], "secretName": "agent-platform-tls"}]
    assert ing["spec"]["ingressClassName"] == "nginx"
    paths = ing["spec"]["rules"][0]["http"]["paths"]
    assert [(p["path"], p["backend"]["service"]["name"]) for p in paths] == [("/", "agent-api")]
    assert capture.outputs["ingressUrl"] == f"https://{host}"


def test_postgres_and_redis_in_cluster(stack, capture):
    objs = objects(capture)
    if stack == "prod":
        pg = objs[("Cluster", "postgres")]["spec"]
        assert pg["storage"] == {"size": "100Gi", "storageClass": "ssd-retain"}
        assert "@sha256:" in pg["imageName"]
    else:
        pg = objs[("StatefulSet", "postgres")]["spec"]
        assert pg["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
        assert pg["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
        assert "@sha256:" in pg["template"]["spec"]["containers"][0]["image"]
        assert objs[("Service", "postgres")]["spec"]["clusterIP"] == "None"
    redis = objs[("StatefulSet", "redis")]["spec"]["template"]["spec"]
    args = redis["containers"][0]["args"]
    assert args[0] == "/run/secrets/redis/redis.conf"  # requirepass, from the Secret, as a file
    opts = dict(zip(args[1::2], args[2::2], strict=True))
    assert opts["--appendonly"] == "yes" and opts["--maxmemory-policy"] == "allkeys-lru"
    assert int(opts["--maxmemory"]) == (1536 if stack == "prod" else 96) * 2**20
    conf = capture.get("kubernetes:core/v1:Secret", "redis-connection").raw_inputs["stringData"]
    assert conf["redis.conf"] == f"requirepass {conf['password']}\n"
    # Data stores get their password as a mounted file, never through the environment.
    for store in ("postgres", "redis") if stack == "dev" else ("redis",):
        spec = objs[("StatefulSet", store)]["spec"]["template"]["spec"]
        assert all("valueFrom" not in e for e in spec["containers"][0].get("env", [])), store
        secret_volume = next(v for v in spec["volumes"] if "secret" in v)
        assert secret_volume["secret"]["secretName"] == f"{store}-connection"
    redis_claims = objs[("StatefulSet", "redis")]["spec"].get("volumeClaimTemplates")
    assert bool(redis_claims) is (stack == "prod")  # dev: a disposable cache


def test_data_is_protected_in_prod_only(stack, capture):
    postgres = (
        [
            ("postgres", "kubernetes:postgresql.cnpg.io/v1:Cluster"),
            ("postgres-backups", "kubernetes:barmancloud.cnpg.io/v1:ObjectStore"),
            ("postgres-app-credentials", "kubernetes:core/v1:Secret"),
        ]
        if stack == "prod"
        else [("postgres", "kubernetes:apps/v1:StatefulSet")]
    )
    for name, typ in (
        *postgres,
        ("postgres-connection", "kubernetes:core/v1:Secret"),
        ("redis", "kubernetes:apps/v1:StatefulSet"),
    ):
        r = capture.get(typ, name)
        assert r.protect is (stack == "prod") and r.retain_on_delete is (stack == "prod"), name
    assert capture.get("random:index/randomPassword:RandomPassword", "postgres-password").protect is (stack == "prod")
    assert capture.get("kubernetes:apps/v1:Deployment", "agent-api").protect is False


def test_outputs_are_plain_and_secret_free(stack, capture):
    out = capture.outputs
    assert out["namespace"] == f"agents-{stack}"
    # The runner's Service exists only to be scraped (prod): nothing calls it.
    assert out["services"] == (["agent-api", "agent-runner"] if stack == "prod" else ["agent-api"])
    # prod: PgBouncer's Service in front of the CloudNativePG primary.
    pg_host = "postgres-pooler-rw" if stack == "prod" else "postgres"
    assert out["postgresHost"] == f"{pg_host}.agents-{stack}.svc.cluster.local"
    assert "[secret]" not in json.dumps(out)


def test_external_datastore_declares_only_its_secret(tmp_path):
    def external(cfg):
        cfg["agent-platform:postgres"] = {"mode": "external", "externalUrlKey": "postgresUrl"}

    cap = capture_with(tmp_path, "dev", external)
    objs = objects(cap)
    assert ("StatefulSet", "postgres") not in objs and ("Service", "postgres") not in objs
    secret = cap.get("kubernetes:core/v1:Secret", "postgres-connection")
    assert secret.secret_paths == ["stringData"] and "DATABASE_URL" in secret.raw_inputs["stringData"]
    # Egress to an external database comes from network.egress, not a pod selector.
    api = objs[("NetworkPolicy", "agent-api")]["spec"]["egress"]
    assert all("podSelector" not in peer for r in api for peer in r["to"] if r["ports"][0]["port"] == 5432)


def test_pulumi_yaml_matches_the_project_schema():
    schema = json.loads((ROOT / "tests" / "fixtures" / "schemas" / "pulumi-project.schema.json").read_text())
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    jsonschema.validate(project, schema)
    assert project["name"] == "agent-platform"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_no_secret_value_committed_in_stack_files(stack_name):
    raw = (ROOT / f"Pulumi.{stack_name}.yaml").read_text()
    assert "secure:" not in raw and "encryptionsalt" not in raw


def test_statefulset_service_has_its_headless_service(capture):
    objs = objects(capture)
    sts = objs[("StatefulSet", "agent-runner")]["spec"]
    headless = objs[("Service", sts["serviceName"])]["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["selector"].items() <= sts["template"]["metadata"]["labels"].items()


# --------------------------------------------------------------------------- day-2 safety


def test_no_changing_label_inside_immutable_fields(capture):
    """volumeClaimTemplates and selectors carry no app.kubernetes.io/version: an image bump stays an update."""
    for (_kind, name), obj in workloads(objects(capture)).items():
        assert "app.kubernetes.io/version" not in obj["spec"]["selector"]["matchLabels"], name
        for claim in obj["spec"].get("volumeClaimTemplates") or []:
            assert "app.kubernetes.io/version" not in claim["metadata"].get("labels", {}), name
            assert claim["metadata"]["labels"]["app.kubernetes.io/name"] == name


def test_provider_updates_secrets_and_config_maps_in_place(capture):
    provider = capture.get("pulumi:providers:kubernetes", "cluster")
    assert provider.inputs["enableSecretMutable"] in (True, "true")
    assert provider.inputs["enableConfigMapMutable"] in (True, "true")


def test_agent_pods_carry_the_connection_secret_checksums(stack, capture):
    objs = objects(capture)
    for obj in agent_workloads(objs).values():
        annotations = obj["spec"]["template"]["metadata"]["annotations"]
        assert len(annotations["checksum/postgres-connection"]) == 64
        for store in ("postgres", "redis") if stack == "dev" else ("redis",):
            value = annotations[f"checksum/{store}-connection"]
            # the data store's own pod template carries the same input checksum
            assert (
                value == objs[("StatefulSet", store)]["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
            )
            assert len(value) == 64


def test_await_timeouts_cover_a_full_rollout_and_ingress_skips_its_await(stack, capture):
    objs = objects(capture)
    runner = objs[("StatefulSet", "agent-runner")]
    timeout = int(runner["metadata"]["annotations"]["pulumi.com/timeoutSeconds"])
    spec = runner["spec"]["template"]["spec"]
    pods = 10 if stack == "prod" else 1
    assert timeout >= pods * spec["terminationGracePeriodSeconds"]
    if stack == "prod":
        assert timeout > 600 * 10  # 10 pods x 600 s drain: far past the provider's 10-minute default
    assert objs[("Ingress", "agent-platform")]["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"


def test_prod_quota_holds_every_service_at_its_hpa_maximum(capture, stack):
    from agent_platform.settings.values import quantity_value

    objs = objects(capture)
    hard = objs[("ResourceQuota", "quota")]["spec"]["hard"]
    need_cpu = need_pods = 0.0
    for (kind, name), obj in workloads(objs).items():
        hpa = objs.get(("HorizontalPodAutoscaler", name))
        pods = hpa["spec"]["maxReplicas"] if hpa else obj["spec"].get("replicas", 1)
        pods += 1 if kind == "Deployment" else 0  # maxSurge 1
        limits = obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        need_cpu += pods * quantity_value(limits["cpu"])
        need_pods += pods
    assert quantity_value(hard["limits.cpu"]) >= need_cpu
    assert int(hard["pods"]) >= need_pods


def test_allow_from_admits_only_the_declared_peer_on_the_service_port(tmp_path):
    capture = capture_with(
        tmp_path, "prod", lambda cfg: cfg["agent-platform:services"][1].update(allowFrom=["agent-api"])
    )
    objs = objects(capture)
    monitoring = {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"port": 9090, "protocol": "TCP"}],
    }
    runner = [r for r in objs[("NetworkPolicy", "agent-runner")]["spec"]["ingress"] if r != monitoring]
    assert runner == [
        {
            "from": [
                {
                    "podSelector": {
                        "matchLabels": {
                            "app.kubernetes.io/name": "agent-api",
                            "app.kubernetes.io/part-of": "agent-platform",
                        }
                    }
                }
            ],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        }
    ]
    api_egress = objs[("NetworkPolicy", "agent-api")]["spec"]["egress"]
    assert {
        "to": [
            {
                "podSelector": {
                    "matchLabels": {
                        "app.kubernetes.io/name": "agent-runner",
                        "app.kubernetes.io/part-of": "agent-platform",
                    }
                }
            }
        ],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    } in api_egress
    # without a declaration nothing in the namespace reaches agent-runner (only Prometheus, on its port)
    assert objects(shipped("prod"))[("NetworkPolicy", "agent-runner")]["spec"].get("ingress", []) in ([], [monitoring])


def _api_server_name_problems(objs) -> list[str]:
    """The API server's checks of names and labels (k8s.io/apimachinery/pkg/util/validation:
    IsDNS1123Subdomain, IsDNS1035Label for Services, IsValidLabelValue; StatefulSet names
    <= 52 so controller-revision-hash=<name>-<10> stays a label value)."""
    import re

    subdomain = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    dns1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    value = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
    problems = []
    for (kind, name), obj in objs.items():
        if not subdomain.match(name) or len(name) > 253:
            problems.append(f"{kind} {name}: name")
        if kind in ("Service", "Namespace") and (not dns1035.match(name) or len(name) > 63):
            problems.append(f"{kind} {name}: DNS-1035 label")
        if kind == "StatefulSet" and len(name) > 52:
            problems.append(f"{kind} {name}: longer than 52")
        labelled = [obj["metadata"].get("labels", {})]
        spec = obj.get("spec", {})
        labelled.append(spec.get("template", {}).get("metadata", {}).get("labels", {}))
        labelled += [c["metadata"].get("labels", {}) for c in spec.get("volumeClaimTemplates") or []]
        for labels in labelled:
            for k, v in labels.items():
                if len(v) > 63 or not value.match(v):
                    problems.append(f"{kind} {name}: label {k}={v!r}")
        if kind == "Ingress" and not subdomain.match(spec.get("ingressClassName", "x")):
            problems.append(f"{kind} {name}: ingressClassName")
    return problems


def test_shipped_objects_pass_the_api_servers_name_rules(capture):
    assert _api_server_name_problems(objects(capture)) == []


def test_longest_accepted_names_and_tags_still_pass_the_api_servers_rules(tmp_path):
    def longest(cfg):
        services = cfg["agent-platform:services"]
        services[0]["name"] = "a" * 58  # Deployment: <name>-prod instance label <= 63
        services[0]["migration"] = services[0]["checkpointCleanup"] = {"enabled": False}  # their own limits: below
        services[1]["name"] = "r" * 52  # StatefulSet limit
        services[0]["image"] = "registry.example.com/agents/agent-api:" + "1.4.2-" + "b" * 56 + "-rc.1"
        cfg["agent-platform:environment"] = "prod"

    objs = objects(capture_with(tmp_path, "prod", longest))
    assert ("StatefulSet", "r" * 52) in objs and ("Service", "r" * 52 + "-headless") in objs
    assert _api_server_name_problems(objs) == []

    def longest_with_jobs(cfg):
        cfg["agent-platform:services"][0]["name"] = (
            "j" * 44
        )  # <name>-cleanup CronJob <= 52, <name>-migrate-<hash> Job <= 63

    (tmp_path / "jobs").mkdir()
    objs = objects(capture_with(tmp_path / "jobs", "prod", longest_with_jobs))
    assert ("CronJob", "j" * 44 + "-cleanup") in objs
    assert _api_server_name_problems(objs) == []


def test_drain_budget_reaches_the_app_in_the_variable_the_stack_names(tmp_path):
    """terminationGracePeriodSeconds - preStop - 10 s to exit: the app stops waiting for in-flight
    work before the kubelet's SIGKILL."""

    def mutate(cfg):
        cfg["agent-platform:services"][0]["drain"] = {
            "preStopSeconds": 10,
            "terminationGraceSeconds": 120,
            "budgetEnv": "WORKER_DRAIN_TIMEOUT",
        }

    objs = objects(capture_with(tmp_path, "dev", mutate))
    assert objs[("ConfigMap", "agent-api")]["data"]["WORKER_DRAIN_TIMEOUT"] == "100"
    assert objs[("Deployment", "agent-api")]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 120


def test_a_drain_budget_variable_the_app_already_gets_is_refused(tmp_path):
    from preview.engine import ProgramError

    def mutate(cfg):
        s = cfg["agent-platform:services"][0]
        s["env"] = {**s.get("env", {}), "WORKER_DRAIN_TIMEOUT": "30"}
        s["drain"] = {**s.get("drain", {}), "budgetEnv": "WORKER_DRAIN_TIMEOUT"}

    with pytest.raises(ProgramError, match=r"drain.budgetEnv: 'WORKER_DRAIN_TIMEOUT' is already set"):
        capture_with(tmp_path, "dev", mutate)


def test_connection_variables_are_named_per_service(tmp_path):
    """LangGraph's own server reads DATABASE_URI and REDIS_URI: the URLs arrive under the names the
    service gives, from the same Secrets and keys, in the app and in its migration Job."""

    def mutate(cfg):
        s = cfg["agent-platform:services"][0]
        s["connectionEnv"] = {"database": "DATABASE_URI", "redis": "REDIS_URI"}
        s["migration"] = {"enabled": True}

    objs = objects(capture_with(tmp_path, "dev", mutate))
    [app] = [
        c for c in objs[("Deployment", "agent-api")]["spec"]["template"]["spec"]["containers"] if c["name"] == "app"
    ]
    env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in app["env"]}
    assert env["DATABASE_URI"] == {"name": "postgres-connection", "key": "DATABASE_URL"}
    assert env["REDIS_URI"] == {"name": "redis-connection", "key": "REDIS_URL"}
    assert "DATABASE_URL" not in env and "REDIS_URL" not in env
    jobs = [o for (kind, _), o in objs.items() if kind == "Job"]
    assert jobs, "the migration Job is rendered"
    for job in jobs:
        names = {e["name"] for c in job["spec"]["template"]["spec"]["containers"] for e in c.get("env") or []}
        assert "DATABASE_URI" in names and "DATABASE_URL" not in names, names


@pytest.mark.parametrize(
    "connection_env,env,message",
    [
        ({"database": "URL", "redis": "URL"}, {}, "connectionEnv.redis: must differ from database ('URL')"),
        ({"database": "DATABASE_URI"}, {"DATABASE_URI": "x"}, "env.DATABASE_URI: is set by the platform"),
    ],
)
def test_connection_variable_names_that_collide_are_refused(tmp_path, connection_env, env, message):
    from preview.engine import ProgramError

    def mutate(cfg):
        s = cfg["agent-platform:services"][0]
        s["connectionEnv"] = connection_env
        s["env"] = {**s.get("env", {}), **env}

    with pytest.raises(ProgramError, match=re.escape(message)):
        capture_with(tmp_path, "dev", mutate)


def test_in_cluster_postgres_stops_with_a_fast_shutdown_before_the_kubelets_sigterm():
    """The kubelet's SIGTERM is Postgres' smart shutdown, which waits for the agents' pools; a preStop
    fast shutdown within the grace period stops it cleanly instead of ending in SIGKILL."""
    pg = objects(shipped("dev"))[("StatefulSet", "postgres")]["spec"]["template"]["spec"]
    [container] = pg["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["pg_ctl", "stop"] and command[command.index("-m") + 1] == "fast"
    assert command[command.index("-D") + 1] == next(e["value"] for e in container["env"] if e["name"] == "PGDATA")
    assert int(command[command.index("-t") + 1]) < pg["terminationGracePeriodSeconds"]
