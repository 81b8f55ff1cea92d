"""Postgres as CloudNativePG (prod's mode): the real program under the SDK mocks, the rendered objects.

The operator's side (what it creates from these objects: `<cluster>-rw`, `<cluster>-app` with keys
username/password/uri/..., pods labelled cnpg.io/cluster and cnpg.io/podRole) is as CloudNativePG
1.30.0 documents it (docs/src/applications.md, pkg/utils/labels_annotations.go); the objects
themselves are checked against the vendored CRDs in tests/preview/test_cnpg_crds.py.
"""

from __future__ import annotations

import pytest

from preview.engine import ProgramError
from program.stack_config import parse_stack_config
from tests.conftest import capture_with, objects, shipped, stack_file, unlined

PG = "agent-platform:postgres"
CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"


@pytest.fixture(scope="module")
def prod():
    return shipped("prod")


@pytest.fixture(scope="module")
def objs(prod):
    return objects(prod)


def test_cluster_fails_over_across_zones_with_a_synchronous_quorum(objs):
    spec = objs[("Cluster", "postgres")]["spec"]
    assert spec["instances"] == 3
    assert spec["postgresql"]["synchronous"] == {"method": "any", "number": 1, "dataDurability": "required"}
    assert (spec["primaryUpdateStrategy"], spec["primaryUpdateMethod"]) == ("unsupervised", "switchover")
    zone = spec["topologySpreadConstraints"][0]
    assert zone["topologyKey"] == "topology.kubernetes.io/zone" and zone["whenUnsatisfiable"] == "DoNotSchedule"
    assert zone["labelSelector"]["matchLabels"] == {"cnpg.io/cluster": "postgres", "cnpg.io/podRole": "instance"}
    assert spec["affinity"]["podAntiAffinityType"] == "required"
    # Storage and resources from the existing keys (Pulumi.prod.yaml postgres.persistence, .resources).
    assert spec["storage"] == {"size": "100Gi", "storageClass": "ssd-retain"}
    assert spec["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    assert spec["postgresql"]["parameters"]["max_connections"] == "200"
    assert spec["bootstrap"]["initdb"]["secret"] == {"name": "postgres-app-credentials"}


def test_wal_is_archived_by_the_barman_cloud_plugin_with_a_retention(objs):
    spec = objs[("Cluster", "postgres")]["spec"]
    assert spec["plugins"] == [
        {
            "name": "barman-cloud.cloudnative-pg.io",
            "isWALArchiver": True,
            "parameters": {"barmanObjectName": "postgres-backups", "serverName": "postgres"},
        }
    ]
    store = objs[("ObjectStore", "postgres-backups")]["spec"]
    assert store["retentionPolicy"] == "30d"
    conf = store["configuration"]
    assert conf["destinationPath"] == "s3://example-agents-prod-backups/postgres"
    # Credentials by reference to the existing Secret: no key material in the program.
    assert conf["s3Credentials"] == {
        "accessKeyId": {"name": "postgres-backup-s3", "key": "ACCESS_KEY_ID"},
        "secretAccessKey": {"name": "postgres-backup-s3", "key": "ACCESS_SECRET_KEY"},
    }


def test_scheduled_backup_has_six_cron_fields(objs):
    spec = objs[("ScheduledBackup", "postgres-scheduled")]["spec"]
    assert spec["schedule"] == "0 0 2 * * *"  # Pulumi.prod.yaml's "0 2 * * *" with seconds first
    assert spec["method"] == "plugin" and spec["pluginConfiguration"] == {"name": "barman-cloud.cloudnative-pg.io"}
    assert spec["cluster"] == {"name": "postgres"}


def test_migration_waits_for_a_backup_named_after_its_image(prod, objs):
    backup = objs[("Backup", "agent-api-migrate-7de72673-backup")]
    assert backup["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.phase}=completed"
    assert backup["spec"]["cluster"] == {"name": "postgres"} and backup["spec"]["method"] == "plugin"
    job = prod.get("kubernetes:batch/v1:Job", "agent-api-migrate-7de72673")
    backup_urn = prod.get("kubernetes:postgresql.cnpg.io/v1:Backup", "agent-api-migrate-7de72673-backup").urn
    assert backup_urn in job.dependencies


def test_a_new_image_backs_up_again(tmp_path):
    def bump(cfg):
        cfg["agent-platform:services"][0]["image"] = cfg["agent-platform:services"][0]["image"].replace(
            "1.4.2", "1.4.3"
        )

    names = {n for k, n in objects(capture_with(tmp_path, "prod", bump)) if k == "Backup"}
    assert len(names) == 1 and names != {"agent-api-migrate-7de72673-backup"}


def test_app_reaches_the_primary_through_pgbouncer(prod, objs):
    pooler = objs[("Pooler", "postgres-pooler-rw")]["spec"]
    assert (pooler["type"], pooler["instances"], pooler["cluster"]) == ("rw", 2, {"name": "postgres"})
    assert pooler["pgbouncer"]["parameters"]["default_pool_size"] == "90"
    # The agents select PgBouncer by the label the operator guarantees, never by one it overwrites.
    assert "app.kubernetes.io/name" not in pooler["template"]["metadata"]["labels"]
    url = prod.get("kubernetes:core/v1:Secret", "postgres-connection").raw_inputs["stringData"]["DATABASE_URL"]
    password = prod.get("kubernetes:core/v1:Secret", "postgres-app-credentials").raw_inputs["stringData"]["password"]
    assert url == f"postgresql://agent:{password}@postgres-pooler-rw.agents-prod.svc.cluster.local:5432/agent"


def test_cluster_and_its_archive_are_protected(prod):
    for typ, name in ((CLUSTER, "postgres"), ("kubernetes:barmancloud.cnpg.io/v1:ObjectStore", "postgres-backups")):
        r = prod.get(typ, name)
        assert r.protect and r.retain_on_delete, name


def test_monitoring_scrapes_the_instances_and_alerts_on_the_promise(objs):
    monitor = objs[("PodMonitor", "postgres")]["spec"]
    assert monitor["selector"]["matchLabels"]["cnpg.io/cluster"] == "postgres"
    assert monitor["podMetricsEndpoints"] == [{"port": "metrics", "interval": "30s"}]
    rules = {
        r["alert"]: r["expr"] for r in objs[("PrometheusRule", "postgres-durability")]["spec"]["groups"][0]["rules"]
    }
    assert "cnpg_pg_stat_archiver_failed_count" in rules["PostgresWalArchiveFailing"]
    # the Barman Cloud plugin's metric (plugin-barman-cloud v0.14.0 internal/cnpgi/instance/metrics.go)
    assert "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{" in rules["PostgresBackupTooOld"]
    assert f"> {26 * 3600}" in rules["PostgresBackupTooOld"]  # backup.maxAgeHours
    assert "cnpg_pg_replication_lag" in rules["PostgresReplicationLag"]
    assert "kubelet_volume_stats_used_bytes" in rules["PostgresVolumeFilling"]
    assert "kube_job_status_failed" in rules["PostgresRestoreDrillFailed"]


def test_restore_drill_is_a_hardened_cronjob_with_a_narrow_role(objs):
    role = objs[("Role", "restore-drill")]
    assert role["rules"] == [
        {
            "apiGroups": ["postgresql.cnpg.io"],
            "resources": ["clusters"],
            "verbs": ["get", "list", "watch", "create", "patch", "delete"],
        }
    ]
    cron = objs[("CronJob", "restore-drill")]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "restore-drill" and pod["automountServiceAccountToken"] is False
    steps = [c["name"] for c in pod["initContainers"]] + [c["name"] for c in pod["containers"]]
    assert steps == ["clear-leftover", "restore", "await-recovery", "check", "clean-up"]
    for c in pod["initContainers"] + pod["containers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"], c["name"]
        assert "@sha256:" in c["image"], c["name"]
    check = pod["initContainers"][3]
    assert check["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "postgres-drill-app", "key": "uri"}
    import json

    drill = json.loads(objs[("ConfigMap", "restore-drill")]["data"]["cluster.json"])
    assert drill["metadata"]["name"] == "postgres-drill" and drill["spec"]["instances"] == 1
    assert "plugins" not in drill["spec"]  # a drill never archives into the store it checks
    assert drill["spec"]["bootstrap"]["recovery"]["source"] == "postgres"
    assert drill["spec"]["externalClusters"][0]["plugin"]["parameters"]["serverName"] == "postgres"


def test_restore_renders_a_new_cluster_recovering_to_the_given_time(tmp_path):
    def restore(cfg):
        cfg[PG]["restore"] = {"enabled": True, "targetTime": "2026-12-03T10:15:00Z"}

    objs = objects(capture_with(tmp_path, "prod", restore))
    # Beside the original, which keeps serving until restore.serve (docs/backups-kubernetes.md).
    assert (
        "bootstrap" in objs[("Cluster", "postgres")]["spec"]
        and "initdb" in objs[("Cluster", "postgres")]["spec"]["bootstrap"]
    )
    spec = objs[("Cluster", "postgres-restored")]["spec"]
    assert spec["bootstrap"]["recovery"] == {
        "source": "postgres",
        "database": "agent",
        "owner": "agent",
        "secret": {"name": "postgres-app-credentials"},
        "recoveryTarget": {"targetTime": "2026-12-03T10:15:00Z"},
    }
    assert spec["externalClusters"] == [
        {
            "name": "postgres",
            "plugin": {
                "name": "barman-cloud.cloudnative-pg.io",
                "parameters": {"barmanObjectName": "postgres-backups", "serverName": "postgres"},
            },
        }
    ]
    # It archives under its own name, so the old cluster's timeline stays intact in the store.
    assert spec["plugins"][0]["parameters"]["serverName"] == "postgres-restored"
    assert objs[("Pooler", "postgres-restored-pooler-rw")]["spec"]["cluster"] == {"name": "postgres-restored"}


def test_restore_to_the_latest_has_no_target(tmp_path):
    def restore(cfg):
        cfg[PG]["restore"] = {"enabled": True}

    spec = objects(capture_with(tmp_path, "prod", restore))[("Cluster", "postgres-restored")]["spec"]
    assert "recoveryTarget" not in spec["bootstrap"]["recovery"]


def _prod_config(mutate) -> dict:
    values = {k.split(":", 1)[1]: v for k, v in stack_file("prod")["config"].items()}
    mutate(values)
    return values


def test_connection_budget_of_prod_fits():
    config = parse_stack_config(_prod_config(lambda v: None))
    # agent-api 21 pods, agent-runner 10, migration and cleanup 1 each, 5 connections apiece.
    assert sum(n for _, n in config.connection_demand()) == (21 + 10 + 1 + 1) * 5


def test_connection_budget_overrun_is_refused_naming_keys_and_numbers(tmp_path):
    def greedy(cfg):
        cfg["agent-platform:services"][0]["databasePoolSize"] = 50

    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "prod", greedy)
    text = unlined(str(info.value))
    assert text.startswith("Pulumi.prod.yaml: agent-platform:postgres.pooler.maxClientConn: connection budget: ")
    # 21 x 50 + 10 x 5 + migration 50 + cleanup 50
    assert "1200 connections at worst" in text and "exceed 1000" in text
    assert "services[0] agent-api: 21 pods x 50" in text and "\n" not in text.strip()


def test_pooler_server_connections_must_fit_max_connections(tmp_path):
    def small(cfg):
        cfg[PG]["maxConnections"] = 150

    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "prod", small)
    assert (
        "agent-platform:postgres.pooler.defaultPoolSize: connection budget: 2 PgBouncer pods x defaultPoolSize 90 = "
        "180 "
        "server connections exceed postgres.maxConnections 150 minus 3 superuser-reserved = 147" in str(info.value)
    )


def test_without_the_pooler_the_budget_is_max_connections(tmp_path):
    def direct(cfg):
        cfg[PG]["pooler"] = {"enabled": False}
        cfg[PG]["maxConnections"] = 100

    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "prod", direct)
    assert "agent-platform:postgres.maxConnections: connection budget: 165 connections at worst" in unlined(
        str(info.value)
    )
    assert "exceed 97, max_connections 100 minus 3 superuser-reserved" in str(info.value)


def test_redis_has_no_cloudnativepg_mode(tmp_path):
    def redis(cfg):
        cfg["agent-platform:redis"]["mode"] = "cloudnativepg"

    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "prod", redis)
    assert "agent-platform:redis.mode" in str(info.value)


def test_cloudnativepg_archives_only_to_an_object_store(tmp_path):
    def volume(cfg):
        cfg[PG]["backup"] = {"enabled": True, "store": "volume"}

    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "prod", volume)
    assert "agent-platform:postgres.backup.store: must be objectStore in mode cloudnativepg" in str(info.value)


def test_the_pooler_admits_its_scrape_on_pgbouncer_exporter_port(objs):
    """PgBouncer's exporter listens on 9127 (cloudnative-pg v1.30.0 pkg/management/url/url.go), not 9187."""
    policy = objs[("NetworkPolicy", "postgres-pooler")]
    ports = {p["port"] for rule in policy["spec"]["ingress"] for p in rule.get("ports", [])}
    assert 9127 in ports and 9187 not in ports
