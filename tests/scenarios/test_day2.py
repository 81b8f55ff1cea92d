"""Day-2 scenarios: from the shipped dev and prod stacks, each routine edit is exactly the
expected set of creates/updates/replaces/deletes, and never replaces a protected or stateful
object. The program runs for real under the SDK's mocks (preview.program.capture_stack);
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
    """`got` without the migration Jobs, checking a new image swapped them: the previous image's
    Job deleted, the new one's created (Jobs are immutable; a new image migrates again)."""
    jobs = {k: v for k, v in got.items() if k[0] == "Job" and k[1].startswith(f"{service}-migrate-")}
    assert sorted(jobs.values()) == ["create", "delete"], jobs
    return {k: v for k, v in got.items() if k not in jobs}


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
    itself, README "Day 2: resize a volume"); the derived quota grows with it."""
    got, _ = changes(run, "prod", lambda cfg: cfg[f"agent-platform:{store}"]["persistence"].update(size="200Gi"))
    assert got == {("ResourceQuota", "quota"): "update"}
    [sts] = [r for r in run("prod").resources if r.type == "kubernetes:apps/v1:StatefulSet" and r.name == store]
    assert sts.ignore_changes == [
        "spec.volumeClaimTemplates[*].spec.resources.requests.storage",
        "spec.volumeClaimTemplates[*].spec.storageClassName",
    ]


def test_storage_class_change_never_replaces(run):
    got, _ = changes(
        run, "prod", lambda cfg: cfg["agent-platform:postgres"]["persistence"].update(storageClass="ssd-fast")
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
    got, result = changes(run, stack, external_postgres)
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
    from agent_platform.config import quantity_value

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
        for svc, tested in zip(cfg[SERVICES], dev):
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
    before = run("prod")
    after = run("prod", lambda cfg: cfg["agent-platform:postgres"]["persistence"].update(size="200Gi"))
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
