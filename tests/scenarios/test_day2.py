"""Day-2 scenarios: from the shipped dev and prod stacks, each routine edit is exactly the
expected set of creates/updates/replaces/deletes, and never replaces a protected or stateful
object. The program runs for real under the SDK's mocks (preview.capture.capture_stack);
classification is the preview's own (preview/changes.py)."""

from __future__ import annotations

import copy
import secrets

import pytest

from preview.changes import classify_captures as classify
from preview.render import render_files
from tests.conftest import stack_file

SERVICES = "agent-platform:services"
K8S = "kubernetes:"


def changes(run, stack, mutate, base=lambda cfg: None):
    before = run(stack, base)
    after = run(stack, lambda cfg: (base(cfg), mutate(cfg)))
    result = classify(before, after)
    # The property every scenario shares: nothing protected or stateful is replaced.
    for c in result:
        assert not (c.op == "replace" and (c.protected or c.holds_data or c.kind == "StatefulSet")), c
    return {(c.key[0], c.name): c.op for c in result}, result


def of(service: str, stack: str, op: str = "update") -> dict:
    """Every object of one agent service (its metadata carries the image version label).

    prod's agent-api also migrates and cleans up (Pulumi.prod.yaml): its CronJob and the Jobs'
    NetworkPolicies and the jobs' own ServiceAccount; the migration Job itself is named after the
    image, see migration_swap."""
    keys = [
        ("ServiceAccount", service),
        ("ConfigMap", service),
        ("Secret", service),
        ("Service", service),
        ("NetworkPolicy", service),
    ]
    keys.append(("StatefulSet", service) if service == "agent-runner" else ("Deployment", service))
    if service == "agent-runner":
        keys.append(("Service", f"{service}-headless"))
    if stack == "prod":
        keys += [("HorizontalPodAutoscaler", service), ("PodDisruptionBudget", service)]
    if stack == "prod" and service in ("agent-api", "agent-tools"):
        keys += [
            ("CronJob", f"{service}-cleanup"),
            ("NetworkPolicy", f"{service}-migrate"),
            ("NetworkPolicy", f"{service}-cleanup"),
            ("ServiceAccount", f"{service}-jobs"),
        ]
    return {k: op for k in keys}


def migration_swap(got: dict, service: str = "agent-api") -> dict:
    """`got` without the migration Jobs and their Backups, checking a new image swapped them: the
    previous image's Job (and, prod's Postgres being CloudNativePG, its pre-migration Backup)
    deleted, the new one's created (Jobs are immutable; a new image migrates again, after a backup)."""
    for kind in ("Job", "Backup"):
        swapped = {k: v for k, v in got.items() if k[0] == kind and k[1].startswith(f"{service}-migrate-")}
        assert sorted(swapped.values()) == ["create", "delete"], swapped
        got = {k: v for k, v in got.items() if k not in swapped}
    return got


def statefulset_postgres(cfg):
    """prod with its Postgres as the StatefulSet mode (dev's): the scenarios of that mode on prod's sizes."""
    pg = cfg["agent-platform:postgres"]
    for key in ("mode", "instances", "backup"):
        pg.pop(key, None)
    pg["image"] = stack_file("dev")["config"]["agent-platform:postgres"].get(
        "image", "postgres:16.4-alpine@sha256:5660c2cbfea50c7a9127d17dc4e48543eedd3d7a41a595a2dfa572471e37e64c"
    )


def store_objects(store: str, op: str = "update") -> dict:
    return {
        (k, n): op
        for k, n in [
            ("StatefulSet", store),
            ("Service", store),
            ("NetworkPolicy", store),
            ("Secret", f"{store}-connection"),
        ]
    }


def bump(image: str, tag: str) -> str:
    repo = image.split("@")[0].rsplit(":", 1)[0]
    return f"{repo}:{tag}@sha256:{secrets.token_hex(32)}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_app_image_bump_updates_only_that_service(run, stack):
    got, _ = changes(run, stack, lambda cfg: cfg[SERVICES][0].update(image=bump(cfg[SERVICES][0]["image"], "1.4.3")))
    assert (migration_swap(got) if stack == "prod" else got) == of("agent-api", stack)


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("store,tag", [("postgres", "16.6-alpine"), ("redis", "7.4.2-alpine")])
def test_data_store_patch_release_is_an_in_place_update(run, stack, store, tag):
    got, result = changes(
        run,
        stack,
        lambda cfg: cfg[f"agent-platform:{store}"].update(image=bump(cfg[f"agent-platform:{store}"]["image"], tag)),
        base=statefulset_postgres if stack == "prod" else lambda cfg: None,
    )
    # redis in dev runs without a volume; both with one in prod: the claim template is untouched
    assert got == store_objects(store)
    sts = next(c for c in result if c.key == ("StatefulSet", store))
    assert not any(p.startswith("spec.volumeClaimTemplates") for p in sts.paths)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_env_value_edit_updates_the_config_map_and_rolls_the_pods(run, stack):
    got, result = changes(run, stack, lambda cfg: cfg[SERVICES][0]["env"].update(LOG_LEVEL="warning"))
    assert got == {("ConfigMap", "agent-api"): "update", ("Deployment", "agent-api"): "update"}
    deployment = next(c for c in result if c.key == ("Deployment", "agent-api"))
    assert deployment.paths == ["spec.template.metadata.annotations.checksum/config"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_api_key_rotation_updates_secrets_and_rolls_their_users(run, stack, monkeypatch):
    def rotate(cfg):
        monkeypatch.setenv("PULUMI_CONFIG_AGENT_PLATFORM_OPENAIAPIKEY", secrets.token_hex(16))

    got, _ = changes(run, stack, rotate)
    assert got == {
        ("Secret", "agent-api"): "update",
        ("Deployment", "agent-api"): "update",
        ("Secret", "agent-runner"): "update",
        ("StatefulSet", "agent-runner"): "update",
    }


def external_postgres(cfg):
    cfg["agent-platform:postgres"] = {"mode": "external", "externalUrlKey": "postgresUrl"}


def test_external_dsn_rotation_updates_the_secret_and_rolls_every_client(run, monkeypatch):
    def rotate(cfg):
        monkeypatch.setenv(
            "PULUMI_CONFIG_AGENT_PLATFORM_POSTGRESURL",
            f"postgresql://agent@db-{secrets.token_hex(4)}.example.com/agent",
        )

    got, _ = changes(run, "prod", rotate, base=external_postgres)
    assert got == {
        ("Secret", "postgres-connection"): "update",
        ("Deployment", "agent-api"): "update",
        ("StatefulSet", "agent-runner"): "update",
    }


@pytest.mark.parametrize("store", ["postgres", "redis"])
def test_volume_resize_never_replaces(run, store):
    """The claim template's size is ignoreChanges: the StatefulSet is not touched (resize the PVC
    itself, docs/operations.md "Resize a volume"); the derived quota grows with it."""
    got, _ = changes(
        run,
        "prod",
        lambda cfg: cfg[f"agent-platform:{store}"]["persistence"].update(size="200Gi"),
        base=statefulset_postgres,
    )
    assert got == {("ResourceQuota", "quota"): "update"}
    [sts] = [
        r
        for r in run("prod", statefulset_postgres).resources
        if r.type == "kubernetes:apps/v1:StatefulSet" and r.name == store
    ]
    assert sts.ignore_changes == [
        "spec.volumeClaimTemplates[*].spec.resources.requests.storage",
        "spec.volumeClaimTemplates[*].spec.storageClassName",
        "spec.volumeClaimTemplates[*].metadata.labels",
        "spec.volumeClaimTemplates[*].metadata.annotations",
    ]


def test_storage_class_change_never_replaces(run):
    got, _ = changes(
        run,
        "prod",
        lambda cfg: cfg["agent-platform:postgres"]["persistence"].update(storageClass="ssd-fast"),
        base=statefulset_postgres,
    )
    assert got == {}


def test_add_a_service_creates_only_its_objects(run):
    def add(cfg):
        cfg[SERVICES].append(
            {
                **copy.deepcopy(cfg[SERVICES][0]),
                "name": "agent-tools",
                "ingress": {"enabled": False},
                "allowFrom": ["agent-api"],
            }
        )

    got, _ = changes(run, "prod", add)
    expected = of("agent-tools", "prod", "create")
    expected[[k for k in got if k[0] == "Job"][0]] = "create"  # its first migration
    expected[[k for k in got if k[0] == "Backup"][0]] = "create"  # and the backup before it
    expected[("ResourceQuota", "quota")] = "update"  # derived: room for its maximum
    expected[("NetworkPolicy", "agent-api")] = "update"  # egress to its declared peer
    assert got == expected


def test_remove_a_service_deletes_only_its_objects(run):
    got, result = changes(run, "prod", lambda cfg: cfg[SERVICES].pop(1))
    expected = of("agent-runner", "prod", "delete")
    expected[("ResourceQuota", "quota")] = "update"
    assert got == expected
    assert not any(c.protected for c in result if c.op == "delete")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_switch_postgres_to_external(run, stack, monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG_AGENT_PLATFORM_POSTGRESURL", "postgresql://agent@db.example.com/agent")
    got, result = changes(
        run, stack, external_postgres, base=statefulset_postgres if stack == "prod" else lambda cfg: None
    )
    assert got == {
        ("Secret", "postgres-connection"): "update",  # same name, new data: in place
        ("StatefulSet", "postgres"): "delete",
        ("Service", "postgres"): "delete",
        ("NetworkPolicy", "postgres"): "delete",
        ("RandomPassword", "postgres-password"): "delete",
        ("Deployment", "agent-api"): "update",
        ("StatefulSet", "agent-runner"): "update",  # new DSN checksum
        ("NetworkPolicy", "agent-api"): "update",
        ("NetworkPolicy", "agent-runner"): "update",  # no pod egress to it
        **(
            {("NetworkPolicy", "agent-api-migrate"): "update", ("NetworkPolicy", "agent-api-cleanup"): "update"}
            if stack == "prod"
            else {}
        ),
        # prod's quota is derived (one pod fewer); dev sets its own
        **({("ResourceQuota", "quota"): "update"} if stack == "prod" else {}),
    }
    deleted_protected = sorted(c.name for c in result if c.op == "delete" and c.protected)
    # prod protects its data: the engine refuses until the README's "remove protected data" procedure
    assert deleted_protected == (["postgres", "postgres-password"] if stack == "prod" else [])


def test_scale_to_the_hpa_maximum_the_quota_holds(run):
    from agent_platform.settings.values import quantity_value

    def scale(cfg):
        cfg[SERVICES][0]["autoscaling"]["maxReplicas"] = 30

    got, _ = changes(run, "prod", scale)
    assert got == {
        ("HorizontalPodAutoscaler", "agent-api"): "update",
        ("ResourceQuota", "quota"): "update",
        ("Deployment", "agent-api"): "update",
    }  # the await timeout grows with the pods
    after = run("prod", scale)
    hard = next(r for r in after.declared() if r.inputs.get("kind") == "ResourceQuota").inputs["spec"]["hard"]
    # 31 agent-api pods (30 + surge) + 10 runners at 2 cores, postgres 2, redis 1
    assert quantity_value(hard["limits.cpu"]) >= 31 * 2 + 10 * 2 + 3
    assert int(hard["pods"]) >= 31 + 10 + 2


def test_promote_dev_images_to_prod_is_an_image_update(run):
    dev = stack_file("dev")["config"][SERVICES]

    def promote(cfg):
        for svc, tested in zip(cfg[SERVICES], dev, strict=True):
            svc["image"] = bump(tested["image"], "1.5.0")

    got, _ = changes(run, "prod", promote)
    assert migration_swap(got) == {**of("agent-api", "prod"), **of("agent-runner", "prod")}


def test_roll_back_renders_the_earlier_objects_byte_for_byte(run):
    before = render_files(run("prod"))
    changed = render_files(
        run("prod", lambda cfg: cfg[SERVICES][0].update(image=bump(cfg[SERVICES][0]["image"], "1.4.3")))
    )
    assert changed != before
    assert render_files(run("prod")) == before


def test_without_ignore_changes_a_resize_would_replace_the_protected_statefulset(run):
    """The guard above is real: the same edit, with the engine's ignoreChanges dropped, is a replace."""
    before = run("prod", statefulset_postgres)
    after = run(
        "prod",
        lambda cfg: (statefulset_postgres(cfg), cfg["agent-platform:postgres"]["persistence"].update(size="200Gi")),
    )
    for r in after.resources:
        r.ignore_changes = []
    sts = next(c for c in classify(before, after) if c.key == ("StatefulSet", "postgres"))
    assert sts.op == "replace" and sts.protected
    assert sts.replace_because == ["spec.volumeClaimTemplates[0].spec.resources.requests.storage"]


def test_without_mutable_secrets_a_key_rotation_would_replace_the_secret(run, monkeypatch):
    """Why platform.py turns on enableSecretMutable: with it off, the provider's Diff replaces."""
    from preview import changes as rules

    before = run("prod")
    monkeypatch.setenv("PULUMI_CONFIG_AGENT_PLATFORM_OPENAIAPIKEY", secrets.token_hex(16))
    after = run("prod")
    monkeypatch.setattr(rules, "_provider_flags", lambda capture: {})
    secret = next(c for c in rules.classify_captures(before, after) if c.key == ("Secret", "agent-api"))
    assert secret.op == "replace" and secret.replace_because == ["stringData.OPENAI_API_KEY"]


# --------------------------------------------------------------------------- CloudNativePG (prod's mode)


def test_cloudnativepg_volume_resize_is_an_update_of_the_cluster(run):
    """The operator grows the instances' claims (a StorageClass with allowVolumeExpansion): the Cluster
    is updated in place, never replaced (pulumi-kubernetes replaces a custom resource only for a new
    name or namespace), and the derived quota grows with it."""
    got, result = changes(run, "prod", lambda cfg: cfg["agent-platform:postgres"]["persistence"].update(size="200Gi"))
    cluster = next(c for c in result if c.key == ("Cluster", "postgres"))
    assert cluster.op == "update" and cluster.paths == ["spec.storage.size"]
    assert got[("ResourceQuota", "quota")] == "update"
    assert ("ObjectStore", "postgres-backups") not in got


def test_cloudnativepg_minor_image_bump_is_a_switchover_update(run):
    def bump_pg(cfg):
        cfg["agent-platform:postgres"]["image"] = "ghcr.io/cloudnative-pg/postgresql:16.15@sha256:" + "ab" * 32

    got, result = changes(run, "prod", bump_pg)
    cluster = next(c for c in result if c.key == ("Cluster", "postgres"))
    assert cluster.op == "update" and "spec.imageName" in cluster.paths
    assert not any(op == "replace" for op in got.values())


# --- data safety: routine metadata and scheduling edits never replace what holds data ---

STORES = ("postgres", "redis")


def _each_store(cfg, **settings):
    for store in STORES:
        cfg[f"agent-platform:{store}"].update(copy.deepcopy(settings))


ROUTINE_EDITS = {
    "stack labels": lambda cfg: cfg.update({"agent-platform:labels": {"team": "agents", "cost-centre": "ml"}}),
    "stack annotations": lambda cfg: cfg.update({"agent-platform:annotations": {"example.com/owner": "agents"}}),
    "data store pod labels": lambda cfg: _each_store(cfg, podLabels={"team": "agents"}),
    "data store pod annotations": lambda cfg: _each_store(cfg, podAnnotations={"example.com/scrape": "false"}),
    "image pull secrets": lambda cfg: cfg.update({"agent-platform:imagePullSecrets": ["registry-credentials"]}),
    "registry": lambda cfg: (
        cfg.update({"agent-platform:registry": "registry.example.com/mirror"}),
        # the data-store images name none, so the mirror applies to them
    ),
    "nodeSelector": lambda cfg: _each_store(cfg, scheduling={"nodeSelector": {"pool": "data"}}),
    "tolerations": lambda cfg: _each_store(
        cfg,
        scheduling={
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "data", "effect": "NoSchedule"}]
        },
    ),
    "affinity": lambda cfg: _each_store(
        cfg,
        scheduling={
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["data"]}]}
                        ]
                    }
                }
            }
        },
    ),
    "data store resources": lambda cfg: _each_store(
        cfg, resources={"requests": {"cpu": "1500m", "memory": "3Gi"}, "limits": {"cpu": "3", "memory": "6Gi"}}
    ),
}


@pytest.mark.parametrize("edit", sorted(ROUTINE_EDITS))
def test_routine_edits_on_live_prod_never_replace_what_holds_data(run, edit):
    """`changes` asserts no replace of anything protected, holding data, or a StatefulSet; here
    also: the data stores are updated in place (a pod-template rollout), nothing is blocked."""
    _, result = changes(run, "prod", ROUTINE_EDITS[edit])
    assert not [c for c in result if c.blocked], [c for c in result if c.blocked]
    # prod's Postgres is a CloudNativePG Cluster, its Redis a StatefulSet: each updated in place or untouched
    stores = [c for c in result if c.key in (("Cluster", "postgres"), ("StatefulSet", "redis"))]
    assert stores and all(c.op == "update" for c in stores), stores
    # what the claim templates carry is unchanged or ignored: never a replace-only path
    assert not [p for c in result for p in c.replace_because]


def test_registry_change_for_a_data_store_image_is_an_in_place_rollout(run):
    _, result = changes(run, "prod", ROUTINE_EDITS["registry"])
    [sts] = [c for c in result if c.key == ("StatefulSet", "redis")]
    assert sts.op == "update" and "spec.template.spec.containers[0].image" in sts.paths


def test_stack_labels_stay_off_the_claim_templates(run):
    after = run("prod", ROUTINE_EDITS["stack labels"])
    [sts] = [r for r in after.declared() if r.inputs.get("kind") == "StatefulSet" and r.name == "redis"]
    assert "team" not in sts.inputs["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]
    assert sts.inputs["spec"]["template"]["metadata"]["labels"]["team"] == "agents"  # the pods do carry it
    assert "spec.volumeClaimTemplates[*].metadata.labels" in sts.ignore_changes


def test_a_live_statefulset_with_labels_on_its_claims_keeps_them(run):
    """A stack created before the claim templates lost the common labels: the live template has
    `team`, the program no longer declares it; ignoreChanges keeps the old value, no replace."""
    before = run("prod", ROUTINE_EDITS["stack labels"])
    after = run("prod", ROUTINE_EDITS["stack labels"])
    live = [r for r in before.resources if r.type == "kubernetes:apps/v1:StatefulSet" and r.name in STORES]
    assert live
    for r in live:
        r.raw_inputs["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]["team"] = "agents"
    assert not [c for c in classify(before, after) if c.op == "replace"]


def test_redis_persistence_off_is_flagged_as_data(run):
    _, result = _changes_unchecked(run, lambda cfg: cfg["agent-platform:redis"]["persistence"].update(enabled=False))
    [sts] = [c for c in result if c.key == ("StatefulSet", "redis")]
    assert sts.op == "replace" and sts.holds_data and sts.blocked
    assert sts.replace_because == ["spec.volumeClaimTemplates"]


def _changes_unchecked(run, mutate, stack="prod"):
    result = classify(run(stack), run(stack, mutate))
    return {(c.key[0], c.name): c.op for c in result}, result


def test_deleting_the_namespace_is_flagged_and_blocked(run):
    """Renaming the namespace deletes the old one, and every PVC in it."""
    _, result = _changes_unchecked(run, lambda cfg: cfg["agent-platform:namespace"].update(name="agents-prod-2"))
    [ns] = [c for c in result if c.kind == "Namespace" and c.op == "delete"]
    assert ns.name == "agents-prod" and ns.holds_data and ns.protected and ns.blocked


def test_the_prod_namespace_is_protected_and_retained(run):
    [ns] = [r for r in run("prod").declared() if r.inputs.get("kind") == "Namespace"]
    assert ns.protect and ns.retain_on_delete
    [dev] = [r for r in run("dev").declared() if r.inputs.get("kind") == "Namespace"]
    assert not dev.protect  # dev's stores are unprotected (Pulumi.dev.yaml)


@pytest.mark.parametrize("stack", ["dev"])
def test_a_postgres_major_bump_is_never_routine(run, stack):
    _, result = _changes_unchecked(
        run,
        lambda cfg: cfg["agent-platform:postgres"].update(
            image=bump(cfg["agent-platform:postgres"]["image"], "17.2-alpine")
        ),
        stack,
    )
    [sts] = [c for c in result if c.key == ("StatefulSet", "postgres")]
    assert sts.blocked and "Postgres 16 -> 17" in sts.refused and "pg_upgrade" in sts.refused


def keda_redis(cfg):
    cfg[SERVICES][1]["usesRedis"] = True
    cfg[SERVICES][1]["autoscaling"].update(engine="keda", keda={"trigger": "redis"})


def test_redis_eviction_with_queues_is_refused(run):
    from preview.engine import ProgramError

    def evicting(cfg):
        keda_redis(cfg)
        cfg["agent-platform:redis"]["maxmemoryPolicy"] = "allkeys-lru"

    with pytest.raises(ProgramError) as error:
        run("prod", evicting)
    message = str(error.value)
    assert "redis.maxmemoryPolicy" in message and "'allkeys-lru'" in message and "noeviction" in message


def test_redis_with_queues_defaults_to_noeviction(run):
    after = run("prod", keda_redis)
    [sts] = [r for r in after.declared() if r.inputs.get("kind") == "StatefulSet" and r.name == "redis"]
    args = sts.inputs["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"


# --- Postgres major version on CloudNativePG (prod): the operator's in-place upgrade, declared or refused ---


def _cnpg_major(cfg, tag="17.6", declared=None):
    pg = cfg["agent-platform:postgres"]
    pg["image"] = bump(pg["image"], tag)
    if declared is not None:
        pg["majorUpgradeFrom"] = declared


def test_an_undeclared_cloudnativepg_major_bump_is_refused_with_the_key_that_declares_it(run):
    _, result = _changes_unchecked(run, _cnpg_major)
    [cluster] = [c for c in result if c.key == ("Cluster", "postgres")]
    assert cluster.op == "update" and cluster.blocked
    assert "Postgres 16 -> 17" in cluster.refused and "`postgres.majorUpgradeFrom: 16`" in cluster.refused
    assert "unprotect" not in cluster.refused


def test_a_declared_cloudnativepg_major_upgrade_backs_up_first_and_is_shown_never_routine(run):
    after = run("prod", lambda cfg: _cnpg_major(cfg, declared=16))
    result = classify(run("prod"), after)
    [cluster] = [c for c in result if c.key == ("Cluster", "postgres")]
    assert not cluster.blocked and cluster.op == "update"
    assert "MAJOR UPGRADE Postgres 16 -> 17" in cluster.major_upgrade
    [backup] = [c for c in result if c.key == ("Backup", "postgres-before-major-upgrade-from-16")]
    assert backup.op == "create"
    declared = {r.name: r for r in after.declared()}
    backup_r = declared["postgres-before-major-upgrade-from-16"]
    assert backup_r.inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.phase}=completed"
    assert backup_r.inputs["spec"] == {
        "cluster": {"name": "postgres"},
        "method": "plugin",
        "pluginConfiguration": {"name": "barman-cloud.cloudnative-pg.io"},
        "target": "primary",
    }
    # the Cluster's update waits for the Backup: the engine orders by these dependencies
    [cluster_r] = [r for r in after.resources if r.type.endswith(":Cluster") and r.name == "postgres"]
    assert backup_r.urn in cluster_r.dependencies


def test_a_major_upgrade_declared_from_another_major_is_still_refused(run):
    _, result = _changes_unchecked(run, lambda cfg: _cnpg_major(cfg, tag="18.1", declared=17))
    [cluster] = [c for c in result if c.key == ("Cluster", "postgres")]
    assert cluster.blocked and "Postgres 16 -> 18" in cluster.refused


def test_a_cloudnativepg_major_downgrade_is_refused(run):
    _, result = _changes_unchecked(run, lambda cfg: _cnpg_major(cfg, tag="15.10"))
    [cluster] = [c for c in result if c.key == ("Cluster", "postgres")]
    assert cluster.blocked and "never goes back a major" in cluster.refused


@pytest.mark.parametrize(
    ("stack", "mutate", "expected"),
    [
        ("dev", lambda cfg: cfg["agent-platform:postgres"].update(majorUpgradeFrom=15), "is for mode cloudnativepg"),
        ("prod", lambda cfg: _cnpg_major(cfg, tag="16.20", declared=16), "must be below the image's major (16"),
    ],
)
def test_major_upgrade_from_is_refused_where_it_cannot_apply(run, stack, mutate, expected):
    from preview.engine import ProgramError

    with pytest.raises(ProgramError) as error:
        run(stack, mutate)
    assert "postgres.majorUpgradeFrom" in str(error.value) and expected in str(error.value)
