"""Docker parity, credentials in every source and URL form, data stores recognised without the
project's label, PDB arithmetic. Docker shapes are pulumi-docker Container inputs (pulumi/pulumi-docker
sdk/python/pulumi_docker/container.py, _inputs.py)."""

from __future__ import annotations

import pytest

from policies.rules import RULES_BY_NAME
from policies.rules.base import Resource, Unknown
from policies.rules.k8s import CONFIGMAP, DEPLOYMENT, HPA, PDB, with_change
from policies.rules.samples import deployment, docker_container, hpa, pdb
from policies.rules.secrets import CONFIGMAP_GOOD, SECRET_VALUE

C0 = "spec.template.spec.containers.0"
POD = "spec.template.spec"


def run(name, subject):
    return RULES_BY_NAME[name].run(subject)


@pytest.mark.parametrize(
    "name, change",
    [
        ("docker-no-host-namespaces", {"pidMode": "host"}),
        ("docker-no-host-namespaces", {"ipcMode": "host"}),
        ("docker-capabilities-added", {"capabilities": {"drops": ["ALL"], "adds": ["CAP_NET_ADMIN"]}}),
        ("docker-seccomp", {"securityOpts": ["no-new-privileges:true", "seccomp:unconfined"]}),
        ("docker-selinux", {"securityOpts": ["no-new-privileges:true", "label=type:spc_t"]}),
        ("docker-no-host-mounts", {"mounts": [{"type": "bind", "source": "/etc/", "target": "/host-etc"}]}),
        (
            "docker-no-host-mounts",
            {"mounts": [{"type": "bind", "source": "/run/containerd/containerd.sock", "target": "/s"}]},
        ),
        ("docker-no-host-mounts", {"volumes": [{"hostPath": "/", "containerPath": "/host"}]}),
        ("docker-no-host-mounts", {"devices": [{"hostPath": "/dev/fuse"}]}),
        ("docker-env-credentials", {"envs": ["POSTGRES_PASSWORD=hunter2"]}),
        ("docker-env-credentials", {"envs": ["REDIS_URL=redis://:hunter2@redis:6379/0"]}),
        ("docker-no-literal-secrets", {"healthcheck": {"tests": ["CMD-SHELL", "redis-cli -a hunter2 ping"]}}),
        ("docker-no-literal-secrets", {"command": ["sh", "-c", "PGPASSWORD=hunter2 psql -h db"]}),
        ("docker-non-root", {"user": None}),
        ("docker-cpu-limit", {"cpus": "0"}),
        ("docker-ports-loopback", {"publishAllPorts": True}),
        ("docker-image-tag-set", {"image": "redis"}),
    ],
)
def test_docker_hazards_are_found(name, change):
    assert run(name, docker_container(**change))


@pytest.mark.parametrize(
    "name, change",
    [
        (
            "docker-no-host-mounts",
            {
                "volumes": [{"volumeName": "pgdata", "containerPath": "/var/lib/postgresql/data"}],
                "mounts": [{"type": "bind", "source": "/srv/agent/uploads", "target": "/uploads"}],
            },
        ),
        ("docker-capabilities-added", {"capabilities": {"drops": ["ALL"], "adds": ["CAP_NET_BIND_SERVICE"]}}),
        (
            "docker-env-credentials",
            {
                "envs": ["POSTGRES_PASSWORD_FILE=/run/secrets/pg", "LOG_LEVEL=info", Unknown("envs.2")],
                "command": ["sh", "-c", 'exec redis-server --requirepass "$REDIS_PASSWORD"'],
            },
        ),
        ("docker-cpu-limit", {"cpus": None, "cpuQuota": 50000}),
        ("docker-image-tag-set", {"image": "sha256:" + "cd" * 32}),
        ("docker-image-tag-set", {"image": Unknown("image")}),
    ],
)
def test_docker_safe_settings_pass(name, change):
    assert run(name, docker_container(**change)) == []


@pytest.mark.parametrize(
    "value",
    [
        "redis://:hunter2@redis:6379/0",
        "postgresql://agent:hunter2@db/agent",
        "REDIS://user:pw@h:6379",
        "agent:hunter2@tcp(db:3306)/agent",
        "jdbc:postgresql://db/agent?user=agent&password=hunter2",
        "host=db user=agent password=hunter2",
        "Server=db;User Id=sa;Password=hunter2;",
    ],
)
def test_url_and_dsn_credentials_in_every_form(value):
    assert SECRET_VALUE.search(value)


@pytest.mark.parametrize(
    "value",
    [
        "postgresql://db:5432/agent",
        "ssh://git@github.com/org/repo",
        "http://api:8000/healthz",
        "user@example.com",
        "registry:5000/api@sha256:" + "ab" * 32,
    ],
)
def test_urls_without_credentials_are_not_secrets(value):
    assert not SECRET_VALUE.search(value)


def _stack(env=None, env_from=None, data=None):
    workload = deployment()
    if env is not None:
        workload = with_change(workload, f"{C0}.env", env)
    if env_from is not None:
        workload = with_change(workload, f"{C0}.envFrom", env_from)
    cm = with_change(CONFIGMAP_GOOD, "data", data or CONFIGMAP_GOOD["data"])
    return [Resource.of(workload, DEPLOYMENT), Resource.of(cm, CONFIGMAP)]


def test_configmap_key_ref_is_looked_up_in_the_stack():
    rule = RULES_BY_NAME["configmap-ref-no-secrets"]
    ref = {"configMapKeyRef": {"name": "api", "key": "conn"}}
    assert rule.run(_stack(env=[{"name": "DB_URL", "valueFrom": ref}], data={"conn": "postgresql://a:hunter2@db/a"}))
    assert rule.run(_stack(env=[{"name": "DB_URL", "valueFrom": ref}], data={"conn": "postgresql://db/a"})) == []
    # The ConfigMap's own key is harmless, but the container sees it as a password.
    assert rule.run(_stack(env=[{"name": "DB_PASSWORD", "valueFrom": ref}], data={"conn": "hunter2"}))
    # envFrom with a prefix: key KEY becomes API_KEY.
    assert rule.run(_stack(env_from=[{"configMapRef": {"name": "api"}, "prefix": "API_"}], data={"KEY": "abc123"}))
    # A ConfigMap outside the stack: the secret-looking name alone decides.
    missing = {"configMapKeyRef": {"name": "elsewhere", "key": "k"}}
    assert rule.run(_stack(env=[{"name": "OPENAI_API_KEY", "valueFrom": missing}]))
    assert rule.run(_stack(env=[{"name": "LOG_LEVEL", "valueFrom": missing}])) == []


def _store(image, **changes):
    props = with_change(deployment(), f"{C0}.image", image)
    for path, value in changes.items():
        props = with_change(props, path, value)
    return props


@pytest.mark.parametrize(
    "props",
    [
        _store("docker.io/bitnami/postgresql:16.4.0"),
        _store("registry.example.com/custom/db:1.0", **{f"{C0}.ports": [{"containerPort": 5432}]}),
        _store(
            "registry.example.com/custom/kv:1.0",
            **{"spec.template.metadata.labels": {"app.kubernetes.io/name": "valkey"}},
        ),
    ],
)
def test_data_stores_are_recognised_without_the_project_label(props):
    assert "datastore" not in str(props)
    assert run("datastore-persistent-volume", props)


def test_redis_authentication_forms():
    official = _store("redis:7.4.1")
    assert run("redis-requires-auth", official)
    assert run("redis-requires-auth", with_change(official, f"{C0}.args", ["--requirepass", "$(REDIS_PASSWORD)"])) == []
    secret_env = [{"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis", "key": "password"}}}]
    assert run("redis-requires-auth", with_change(official, f"{C0}.env", secret_env))  # the official image ignores it
    bitnami = with_change(_store("bitnami/redis:7.4"), f"{C0}.env", secret_env)
    assert run("redis-requires-auth", bitnami) == []
    empty = with_change(bitnami, f"{C0}.env", secret_env + [{"name": "ALLOW_EMPTY_PASSWORD", "value": "yes"}])
    assert run("redis-requires-auth", empty)
    conf = with_change(
        with_change(official, f"{C0}.args", ["/run/secrets/redis/redis.conf"]),
        f"{C0}.volumeMounts",
        [{"name": "credentials", "mountPath": "/run/secrets/redis"}],
    )
    assert run("redis-requires-auth", conf)  # no volume named credentials yet
    conf = with_change(conf, f"{POD}.volumes", [{"name": "credentials", "secret": {"secretName": "redis-connection"}}])
    assert run("redis-requires-auth", conf) == []


def test_docker_redis_needs_requirepass_and_a_volume():
    redis = docker_container(name="redis", image="redis:7.4.1-alpine", command=["redis-server", "--appendonly", "yes"])
    assert run("redis-requires-auth", redis)
    assert run("redis-requires-auth", {**redis, "command": ["redis-server", "--requirepass", "$REDIS_PASSWORD"]}) == []
    assert run("datastore-persistent-volume", redis)
    assert (
        run(
            "datastore-persistent-volume",
            {**redis, "volumes": [{"volumeName": "redis-data", "containerPath": "/data"}]},
        )
        == []
    )


@pytest.mark.parametrize(
    "spec, pods, blocked",
    [
        ({"minAvailable": "90%"}, 3, True),
        ({"minAvailable": "50%"}, 3, False),
        ({"maxUnavailable": "10%"}, 3, False),
        ({"maxUnavailable": 0}, 5, True),
        ({"minAvailable": 2}, 3, False),
    ],
)
def test_pdb_arithmetic_is_the_disruption_controllers(spec, pods, blocked):
    found = run(
        "pdb-allows-disruption",
        [Resource.of(deployment(), DEPLOYMENT), Resource.of(hpa(pods), HPA), Resource.of(pdb(**spec), PDB)],
    )
    assert bool(found) is blocked
