"""The preview's change classifier (preview/changes.py), per rule, on objects shaped as the program
registers them (resources.json entries: preview/render.py resources_document), and end to end."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from preview.changes import Resource, blocked_messages, classify, folded, markdown_table
from tests.conftest import stack_file
from tests.preview.test_cli import run_cli

STS = "kubernetes:apps/v1:StatefulSet"
CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
URN = "urn:pulumi:prod::agent-platform::agent-platform:k8s:Postgres$kubernetes:apps/v1:StatefulSet::postgres"


def statefulset(image="postgres:16.4-alpine", size="100Gi", env="prod") -> dict:
    labels = {
        "app.kubernetes.io/name": "postgres",
        "agent-platform.io/environment": env,
        "app.kubernetes.io/instance": f"postgres-{env}",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "postgres", "namespace": f"agents-{env}", "labels": labels},
        "spec": {
            "serviceName": "postgres",
            "selector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "postgres", "image": image}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data", "labels": labels},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
                }
            ],
        },
    }


def res(inputs, type_=STS, name="postgres", protect=True, ignore=()) -> Resource:
    return Resource(URN, type_, name, protect, inputs, list(ignore))


def secret(value: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": "agent-api", "namespace": "agents-prod"},
        "stringData": {"OPENAI_API_KEY": value},
    }


def provider(mutable: bool) -> Resource:
    return Resource(
        "urn:p",
        "pulumi:providers:kubernetes",
        "cluster",
        False,
        {"enableSecretMutable": "true" if mutable else "false"},
    )


def test_image_bump_of_a_protected_statefulset_is_an_update():
    [c] = classify([res(statefulset())], [res(statefulset(image="postgres:16.6-alpine"))])
    assert (c.op, c.paths, c.blocked) == ("update", ["spec.template.spec.containers[0].image"], False)


def test_volume_claim_template_change_replaces_protected_data_and_is_blocked():
    [c] = classify([res(statefulset())], [res(statefulset(size="200Gi"))])
    assert c.op == "replace" and c.holds_data and c.fixed_name and c.blocked
    assert c.replace_because == ["spec.volumeClaimTemplates[0].spec.resources.requests.storage"]
    assert "provider/pkg/provider/diff.go" in c.sources[0]
    [msg] = blocked_messages([c])
    # The way out keeps the PVCs; dropping the protection is never suggested.
    assert "kubectl delete statefulset postgres --cascade=orphan" in msg and "unprotect" not in msg
    assert "HOLDS DATA" in markdown_table([c]) and "delete-then-create" in markdown_table([c])


def test_ignore_changes_keeps_the_resize_off_the_statefulset():
    ignore = ["spec.volumeClaimTemplates[*].spec.resources.requests.storage"]
    assert classify([res(statefulset(), ignore=ignore)], [res(statefulset(size="200Gi"), ignore=ignore)]) == []


def test_secret_content_replaces_unless_the_provider_makes_secrets_mutable():
    k = "kubernetes:core/v1:Secret"
    old, new = Resource("u", k, "agent-api", False, secret("a")), Resource("u", k, "agent-api", False, secret("b"))
    [immutable] = [c for c in classify([provider(False), old], [provider(False), new]) if c.kind == "Secret"]
    [mutable] = [c for c in classify([provider(True), old], [provider(True), new]) if c.kind == "Secret"]
    assert immutable.op == "replace" and immutable.replace_because == ["stringData.OPENAI_API_KEY"]
    assert mutable.op == "update"


def test_docker_container_image_is_force_new_but_restart_is_not():
    t = "docker:index/container:Container"
    base = {"name": "agent-api", "image": "agent-api:1.4.2", "restart": "unless-stopped"}
    [img] = classify(
        [res(base, t, "agent-api", False)], [res(dict(base, image="agent-api:1.4.3"), t, "agent-api", False)]
    )
    [rst] = classify([res(base, t, "agent-api", False)], [res(dict(base, restart="always"), t, "agent-api", False)])
    assert img.op == "replace" and "terraform-provider-docker" in img.sources[0]
    assert rst.op == "update"


def test_delete_of_a_protected_random_password_is_blocked_and_flagged_as_data():
    t = "random:index/randomPassword:RandomPassword"
    [c] = classify([res({"length": 32, "special": False}, t, "postgres-password")], [])
    assert c.op == "delete" and c.blocked and c.holds_data


def test_promotion_folds_environment_only_differences():
    found = classify([res(statefulset(env="dev"))], [res(statefulset(env="prod"))], promotion=True)
    kept, count = folded(found)
    assert (kept, count) == ([], 1)
    # The same labels in a real update of one stack are a change (and replace via the claim template).
    [c] = classify([res(statefulset(env="dev"))], [res(statefulset(env="prod"))])
    assert c.op == "replace"


def _prod_with(tmp_path, mutate):
    data = copy.deepcopy(stack_file("prod"))
    mutate(data["config"])
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_cli_postgres_image_bump_on_prod_is_an_update_in_every_format(tmp_path):
    # prod's Postgres is a CloudNativePG Cluster: a new image is a switchover update of it.
    image = "ghcr.io/cloudnative-pg/postgresql:16.15@sha256:" + "ab" * 32
    cfg = _prod_with(tmp_path, lambda c: c["agent-platform:postgres"].update(image=image))
    args = ["prod", "--config-file", str(cfg), "--against", "prod", "--no-policy", "--out", str(tmp_path / "o")]
    md = run_cli(*args, "--format", "markdown")
    assert md.returncode == 0, md.stderr
    assert "| `Cluster/postgres` | update | " in md.stdout and "`spec.imageName`" in md.stdout
    assert "| replace |" not in md.stdout
    text = run_cli(*args)
    assert "  update  Cluster/postgres  [" in text.stdout
    [d] = json.loads(run_cli(*args, "--format", "json").stdout)["diffs"]
    cluster = next(c for c in d["changes"] if c["name"] == "postgres" and c["type"] == CLUSTER)
    assert cluster["op"] == "update" and not cluster["blocked"]


def test_cli_switching_prod_postgres_to_external_is_blocked_by_protect(tmp_path):
    cfg = _prod_with(
        tmp_path, lambda c: c.update({"agent-platform:postgres": {"mode": "external", "externalUrlKey": "postgresUrl"}})
    )
    result = run_cli(
        "prod",
        "--config-file",
        str(cfg),
        "--against",
        "prod",
        "--no-policy",
        "--out",
        str(tmp_path / "o"),
        env={"PULUMI_CONFIG_AGENT_PLATFORM_POSTGRESURL": "postgresql://app:pw@db.example:5432/agents"},
    )
    assert result.returncode == 1
    assert "error: delete of protected data-holding Cluster/postgres" in result.stderr
    # The key that made it protected is named (data-safety: the way out keeps the protection).
    [line] = [ln for ln in result.stderr.splitlines() if "Cluster/postgres" in ln]
    assert "(protected by postgres.protect in the stack file):" in line
    assert "bootstrap the new cluster from the object store" in result.stderr
    assert "unprotect" not in result.stderr + result.stdout
    assert "pw@db.example" not in result.stdout + result.stderr


def test_cli_promotion_does_not_block_and_folds_labels(tmp_path):
    result = run_cli("dev", "--against", "prod", "--no-policy", "--out", str(tmp_path), "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert "promote `dev` onto `prod`" in result.stdout
    assert "differ only in environment labels / namespace (folded)" in result.stdout
    assert "| `ServiceAccount/agent-api` | update" not in result.stdout  # only its environment labels differ
    # prod's metrics port (and the label the ServiceMonitor selects it by): a real difference.
    assert (
        "| `Service/agent-api` | update | `metadata.labels.agent-platform.io/scraped`, `spec.ports` |" in result.stdout
    )
    assert "| `ConfigMap/agent-api` | update | `data.LOG_LEVEL`, `data.METRICS_PORT` |" in result.stdout


def test_cli_prod_resize_honours_the_programs_ignore_changes(tmp_path):
    """The claim template's size is ignoreChanges in the program: recorded at registration
    (recorded on each captured resource, written to resources.json), so the protected StatefulSet is not replaced."""
    cfg = _prod_with(tmp_path, lambda c: c["agent-platform:postgres"]["persistence"].update(size="200Gi"))
    result = run_cli(
        "prod",
        "--config-file",
        str(cfg),
        "--against",
        "prod",
        "--no-policy",
        "--out",
        str(tmp_path / "o"),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    [d] = json.loads(result.stdout)["diffs"]
    assert not [c for c in d["changes"] if c["op"] in ("replace", "delete")], d["changes"]


def _docker_input_names(module: str, args_class: str) -> set[str]:
    """The input names of a pulumi-docker Args class, as the installed SDK registers them."""
    import importlib
    import inspect
    import re as _re

    source = inspect.getsource(getattr(importlib.import_module(f"pulumi_docker.{module}"), args_class))
    names = set(_re.findall(r'@pulumi\.getter\(name="([A-Za-z]+)"\)', source))
    names |= set(_re.findall(r"@pulumi\.getter\n\s+def ([a-z]+)\(self\)", source))
    return names


@pytest.mark.parametrize(
    "token,module,args_class",
    [
        ("docker:index/container:Container", "container", "ContainerArgs"),
        ("docker:index/volume:Volume", "volume", "VolumeArgs"),
        ("docker:index/network:Network", "network", "NetworkArgs"),
    ],
)
def test_docker_force_new_names_are_inputs_of_the_installed_sdk(token, module, args_class):
    from preview.changes import DOCKER_FORCE_NEW

    unknown = set(DOCKER_FORCE_NEW[token]) - _docker_input_names(module, args_class)
    assert not unknown, f"not inputs of pulumi_docker.{args_class}: {sorted(unknown)}"


def test_docker_stop_settings_replace_and_healthcheck_updates_in_place():
    # terraform-provider-docker v4.5.0: stop_signal/stop_timeout ForceNew; healthcheck, tmpfs, init not.
    t = "docker:index/container:Container"
    base = {
        "name": "agent-api",
        "image": "a:1",
        "stopTimeout": 30,
        "healthcheck": {"tests": ["CMD", "x"]},
        "tmpfs": {"/tmp": ""},
    }
    for changed, op in (
        (dict(base, stopTimeout=60), "replace"),
        (dict(base, stopSignal="SIGINT"), "replace"),
        (dict(base, healthcheck={"tests": ["CMD", "y"]}), "update"),
        (dict(base, tmpfs={"/run": ""}), "update"),
    ):
        [c] = classify([res(base, t, "agent-api", False)], [res(changed, t, "agent-api", False)])
        assert c.op == op, (changed, c.op)


def namespace(name="agents-prod") -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


NS = "kubernetes:core/v1:Namespace"


def test_a_statefulset_losing_its_claims_is_flagged_as_data():
    lost = statefulset()
    del lost["spec"]["volumeClaimTemplates"]
    [c] = classify([res(statefulset(), protect=False)], [res(lost, protect=False)])
    assert c.op == "replace" and c.holds_data
    assert "HOLDS DATA" in markdown_table([c])


def test_deleting_the_namespace_of_a_data_store_is_flagged_and_blocked():
    before = [res(namespace(), NS, "agents-prod", protect=False), res(statefulset())]
    [ns, sts] = sorted(classify(before, []), key=lambda c: c.kind)
    assert (ns.kind, ns.op, ns.holds_data, ns.blocked) == ("Namespace", "delete", True, True)
    [msg, _] = blocked_messages([ns, sts])
    assert "deletes every PVC in it" in msg and "unprotect" not in msg


def test_a_namespace_without_claims_holds_no_data():
    [c] = classify([res(namespace("other"), NS, "other", protect=False), res(statefulset())], [res(statefulset())])
    assert (c.op, c.holds_data, c.blocked) == ("delete", False, False)


@pytest.mark.parametrize(
    "old,new,refused",
    [
        ("postgres:16.4-alpine@sha256:" + "a" * 64, "postgres:17.2-alpine@sha256:" + "b" * 64, True),
        ("registry.example.com/mirror/postgres:16.4-alpine", "postgres:17-alpine", True),
        ("postgres:16.4-alpine", "postgres:16.6-alpine", False),
        ("postgres:16.4-alpine", "registry.example.com/mirror/postgres:16.4-alpine", False),
    ],
)
def test_a_postgres_major_bump_is_refused_never_routine(old, new, refused):
    [c] = classify([res(statefulset(image=old), protect=False)], [res(statefulset(image=new), protect=False)])
    assert c.op == "update" and c.blocked == refused
    if refused:
        [msg] = blocked_messages([c])
        assert "pg_upgrade" in msg and "pg_dump" in msg and "cloudnativepg" in msg


@pytest.mark.parametrize(
    ("urn", "kind", "keys"),
    [
        (
            "urn:pulumi:prod::agent-platform::agent-platform:k8s:Redis$kubernetes:apps/v1:StatefulSet::redis",
            "StatefulSet",
            ["redis.protect"],
        ),
        (
            "urn:pulumi:prod::agent-platform::agent-platform:k8s:AgentNamespace$kubernetes:core/v1:Namespace::agents-prod",
            "Namespace",
            ["postgres.protect", "redis.protect"],
        ),
        (
            "urn:pulumi:local::agent-platform::agent-platform:docker:DockerPlatform$docker:index/volume:Volume::postgres-data",
            "Volume",
            ["postgres.protect"],
        ),
        (
            "urn:pulumi:prod::agent-platform::agent-platform:k8s:AgentService$kubernetes:apps/v1:Deployment::agent-api",
            "Deployment",
            [],
        ),
    ],
)
def test_a_protected_resource_names_the_setting_that_protects_it(urn, kind, keys):
    from preview.changes import Change, protection_keys

    assert protection_keys(Change("delete", f"x:{kind}", "n", urn=urn, protected=True)) == keys
