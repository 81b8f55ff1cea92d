"""The CloudNativePG builders on minimal settings, no program run: each spec is a pure function of the
settings (CloudNativePG's own pkg/specs/*_test.go are the model), checked against the vendored CRD
schemas by the preview and against the operator model here."""

from __future__ import annotations

import json

from agent_platform import operators
from agent_platform.k8s.cloudnativepg.backups import scheduled_backup_cron, scheduled_backup_spec
from agent_platform.k8s.cloudnativepg.cluster import cluster_spec
from agent_platform.k8s.cloudnativepg.names import cluster_name, pooler_name, serving_labels
from agent_platform.k8s.cloudnativepg.object_store import object_store_spec
from agent_platform.k8s.cloudnativepg.pooler import pooler_spec
from agent_platform.k8s.cloudnativepg.restore_drill import drill_cluster_manifest, drill_pod
from agent_platform.settings.stores import BARMAN_SIDECAR_RESOURCES, POOLER_RESOURCES, PostgresConfig

from policies.rules.k8s import matches

STORE = {"destinationPath": "s3://backups/agents", "credentials": {"secretName": "backup-creds"}}


def settings(**given) -> PostgresConfig:
    return PostgresConfig.model_validate({"mode": "cloudnativepg", "backup": {"enabled": False}, **given})


def with_backups(backup: dict | None = None, **given) -> PostgresConfig:
    return settings(backup={"enabled": True, "store": "objectStore", "objectStore": STORE, **(backup or {})}, **given)


def test_names_follow_restore():
    assert (cluster_name(settings()), pooler_name(settings())) == ("postgres", "postgres-pooler-rw")
    # A restored cluster serves only once the agents are switched to it (restore.serve).
    added = with_backups(restore={"enabled": True})
    assert (cluster_name(added), pooler_name(added)) == ("postgres", "postgres-pooler-rw")
    serving = with_backups(restore={"enabled": True, "serve": True})
    assert (cluster_name(serving), pooler_name(serving)) == ("postgres-restored", "postgres-restored-pooler-rw")
    assert pooler_name(serving, "postgres") == "postgres-pooler-rw"


def test_clients_select_pgbouncer_or_the_instances_by_operator_labels():
    pooled = serving_labels(settings())
    assert pooled == {"cnpg.io/poolerName": "postgres-pooler-rw"}
    assert matches({"matchLabels": pooled}, operators.cnpg_pooler_labels("postgres-pooler-rw", "postgres", {}))
    direct = serving_labels(settings(pooler={"enabled": False}))
    assert matches({"matchLabels": direct}, operators.cnpg_instance_labels("postgres", {"team": "a"}))


def test_pooler_spec_sizes_pgbouncer_and_spreads_its_pods():
    spec = pooler_spec(settings(pooler={"instances": 3, "defaultPoolSize": 40}), "postgres", {"team": "a"})
    assert (spec["cluster"], spec["type"], spec["instances"]) == ({"name": "postgres"}, "rw", 3)
    assert spec["pgbouncer"]["parameters"]["default_pool_size"] == "40"
    assert spec["template"]["metadata"]["labels"] == {"team": "a"}
    [container] = spec["template"]["spec"]["containers"]
    assert container["resources"]["requests"] == POOLER_RESOURCES.requests.model_dump()
    [spread] = spec["template"]["spec"]["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"] == operators.cnpg_pooler_selector("postgres-pooler-rw")


def test_object_store_gives_the_plugins_sidecar_its_resources():
    spec = object_store_spec(with_backups({"retentionDays": 14}))
    assert spec["retentionPolicy"] == "14d"
    assert spec["configuration"]["destinationPath"] == "s3://backups/agents"
    assert spec["instanceSidecarConfiguration"]["resources"]["limits"] == BARMAN_SIDECAR_RESOURCES.limits.model_dump()


def test_scheduled_backup_has_six_cron_fields_and_backs_up_from_a_standby():
    spec = scheduled_backup_spec(with_backups(), "postgres")
    assert spec["schedule"] == scheduled_backup_cron(with_backups().backup.schedule)
    assert len(spec["schedule"].split()) == 6
    assert (spec["method"], spec["target"], spec["cluster"]) == ("plugin", "prefer-standby", {"name": "postgres"})


def test_cluster_spec_archives_only_when_backed_up():
    archived = cluster_spec(with_backups(), "postgres", "postgres-app-credentials", {}, [])
    assert archived["plugins"][0]["isWALArchiver"] is True
    assert "plugins" not in cluster_spec(settings(), "postgres", "postgres-app-credentials", {}, [])
    assert archived["bootstrap"]["initdb"]["secret"] == {"name": "postgres-app-credentials"}


def test_the_drill_recovers_without_archiving_and_without_our_secret():
    manifest = drill_cluster_manifest(with_backups(), "postgres", ["regcred"])
    spec = manifest["spec"]
    assert (manifest["metadata"]["name"], spec["instances"]) == ("postgres-drill", 1)
    assert "plugins" not in spec  # a drill never writes into the archive it checks
    assert "secret" not in spec["bootstrap"]["recovery"]  # the operator generates the drill's own
    assert spec["externalClusters"][0]["plugin"]["parameters"]["serverName"] == "postgres"
    json.dumps(manifest)  # it is written into a ConfigMap as JSON


def test_the_drill_pod_runs_each_step_before_cleaning_up():
    template = drill_pod(with_backups(), "postgres", {"app": "drill"}, [])
    steps = [c.name for c in template.spec.init_containers]
    assert steps == ["clear-leftover", "restore", "await-recovery", "check"]
    [clean_up] = template.spec.containers
    assert clean_up.name == "clean-up" and clean_up.command[:3] == ["kubectl", "delete", "cluster"]
    assert template.spec.automount_service_account_token is False
