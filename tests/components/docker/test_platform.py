"""The Docker-host stack (Pulumi.local.yaml) as the program declares it, and its compose rendering."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from preview.compose import compose_document
from preview.engine import ProgramError
from preview.render import render_files
from tests.conftest import ROOT, capture_with, shipped, stack_file, unlined

CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def local():
    return shipped("local")


@pytest.fixture(scope="module")
def compose(local):
    return compose_document(local)[0]


def containers(capture):
    return {r.name: r for r in capture.by_type(CONTAINER)}


def test_exact_docker_resources(local):
    got = {
        (r.type.split(":")[-1], r.name)
        for r in local.resources
        if r.custom and not r.type.startswith("pulumi:providers")
    }
    assert got == {
        ("Network", "backend"),
        ("Network", "frontend"),
        ("Volume", "postgres-data"),
        ("Volume", "postgres-backup"),
        ("Volume", "postgres-socket"),
        ("Volume", "redis-data"),
        ("RandomPassword", "postgres-password"),
        ("RandomPassword", "redis-password"),
        ("RemoteImage", "image-agent-api-1-4-2"),
        ("RemoteImage", "image-postgres-pgbackrest-16-4-alpine"),
        ("RemoteImage", "image-redis-7-4-1-alpine"),
        ("RemoteImage", "image-nginx-unprivileged-1-27-alpine"),
        ("Container", "postgres"),
        ("Container", "postgres-backup"),
        ("Container", "redis"),
        ("Container", "agent-api-1"),
        ("Container", "agent-api-2"),
        ("Container", "proxy"),
    }
    assert {r.type for r in local.resources if not r.custom} == {"agent-platform:docker:DockerPlatform"}
    assert local.get("pulumi:providers:docker", "docker-host").inputs["host"] == "unix:///var/run/docker.sock"


def test_every_container_is_hardened(local):
    for name, r in containers(local).items():
        i = r.inputs
        assert i["readOnly"] is True and i["tmpfs"], name
        assert i["capabilities"] == {"drops": ["ALL"]}, name
        assert i["securityOpts"] == ["no-new-privileges:true"], name
        assert i["user"].split(":")[0] not in ("", "0", "root"), name
        assert i["restart"] == "unless-stopped" and i["memory"] > 0 and float(i["cpus"]) > 0, name
        assert i["healthcheck"]["tests"][0] in ("CMD", "CMD-SHELL") and i["wait"] is True, name
        for port in i.get("ports") or []:
            assert port["ip"] == "127.0.0.1", name


def test_images_are_pinned_remote_images(local):
    for r in containers(local).values():
        assert "@sha256:" in r.inputs["image"], r.name
    for r in local.by_type("docker:index/remoteImage:RemoteImage"):
        assert "@sha256:" in r.inputs["name"] and r.inputs["keepLocally"] is True


def test_networks_isolate_the_data_stores(local):
    nets = {r.name: r.inputs for r in local.by_type("docker:index/network:Network")}
    assert nets["backend"]["internal"] is True and not nets["frontend"].get("internal")
    on = {
        name: {n["name"].rsplit("-", 1)[-1] for n in r.inputs["networksAdvanced"]}
        for name, r in containers(local).items()
    }
    assert on["postgres"] == on["redis"] == {"backend"}
    assert on["agent-api-1"] == {"backend", "frontend"} and on["proxy"] == {"frontend"}


def test_dependency_order_and_healthchecks(local, compose):
    c = containers(local)
    assert c["postgres"].urn in c["agent-api-1"].dependencies and c["redis"].urn in c["agent-api-1"].dependencies
    assert c["agent-api-2"].urn in c["proxy"].dependencies
    assert compose["services"]["agent-api-1"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    # Replicas in a chain: an image bump replaces one at a time (tools/rolling_update_docker.py).
    assert compose["services"]["agent-api-2"]["depends_on"] == {
        "agent-api-1": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert set(compose["services"]["proxy"]["depends_on"]) == {"agent-api-1", "agent-api-2"}
    assert c["postgres"].inputs["healthcheck"]["tests"][1] == "pg_isready"
    assert "redis-cli" in c["redis"].inputs["healthcheck"]["tests"][1]
    assert "/healthz" in c["agent-api-1"].inputs["healthcheck"]["tests"][-1]


def test_redis_aof_and_password_from_env(local):
    redis = containers(local)["redis"]
    command = redis.inputs["command"][-1]
    assert "--appendonly yes" in command and "--maxmemory-policy allkeys-lru" in command
    assert '--requirepass "$REDIS_PASSWORD"' in command
    assert redis.secret_paths == ["envs[0]"]


def _proxy_conf(proxy) -> str:
    env = dict(e.split("=", 1) for e in proxy.raw_inputs["envs"])
    return env["AGENT_PLATFORM_FILE_0"]


def test_no_container_relies_on_uploads_into_a_read_only_root(local):
    # Docker refuses to copy into a read-only rootfs (moby daemon/archive.go), and
    # pulumi-docker copies `uploads` before start: every file must be written at start.
    for name, c in containers(local).items():
        assert c.inputs["readOnly"] is True and not c.inputs.get("uploads"), name


def test_the_proxy_writes_its_config_into_a_tmpfs_at_start_then_runs_nginx(local):
    proxy = containers(local)["proxy"]
    assert "/etc/nginx/conf.d" in proxy.inputs["tmpfs"]
    assert proxy.inputs["command"] == [
        "sh",
        "-c",
        'printf "%s" "$AGENT_PLATFORM_FILE_0" > /etc/nginx/conf.d/default.conf && exec "$@"',
        "sh",
        "nginx",
        "-g",
        "daemon off;",
    ]
    compose = yaml.safe_load(render_files(local)["docker-compose.yml"])["services"]["proxy"]
    assert "configs" not in compose
    # Every `$` escaped for compose, which would otherwise interpolate nginx's and sh's variables.
    for text in (compose["environment"]["AGENT_PLATFORM_FILE_0"], compose["command"][2]):
        assert "$$" in text and "$" not in text.replace("$$", "")


def test_a_generated_file_outside_a_tmpfs_is_refused():
    from agent_platform.docker.container import start_files

    with pytest.raises(ValueError, match="/etc/nginx/nginx.conf: a generated file must live in one of the tmpfs paths"):
        start_files([("/etc/nginx/nginx.conf", "x")], ("/tmp",), ["nginx"])


def test_nginx_config_is_generated_for_streaming(local):
    conf = _proxy_conf(containers(local)["proxy"])
    assert "least_conn;" in conf and "server agent-api-1:8000" in conf and "server agent-api-2:8000" in conf
    # Never marked down: two replicas marked down at once in a rolling update is a 502 for everyone.
    assert "server agent-api-1:8000 max_fails=0;" in conf and "fail_timeout" not in conf
    # A replica that is gone is given up on after 1 s, not nginx's default 60 s.
    assert "proxy_connect_timeout 1s;" in conf
    assert (
        "proxy_buffering off;" in conf and "proxy_read_timeout 3600s;" in conf and "client_max_body_size 50m;" in conf
    )


def test_compose_never_inlines_a_secret(local):
    files = render_files(local)
    text = files["docker-compose.yml"] + files["compose.env.example"]
    for value in local.secret_values:
        if len(value) >= 8:
            assert value not in text
    env = yaml.safe_load(files["docker-compose.yml"])["services"]["agent-api-1"]["environment"]
    assert env["DATABASE_URL"] == "${DATABASE_URL:?set it in compose.env}"
    assert env["LOG_LEVEL"] == "debug"
    assert "OPENAI_API_KEY=change-me" in files["compose.env.example"]


def test_compose_passes_docker_compose_config_and_compose_lint(tmp_path):
    out = tmp_path / "local"
    result = subprocess.run(
        [sys.executable, "-m", "preview", "local", "--out", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    bindir = ROOT / "venv" / "bin"
    config = subprocess.run(
        [
            str(bindir / "docker-compose"),
            "-f",
            str(out / "docker-compose.yml"),
            "--env-file",
            str(out / "compose.env.example"),
            "config",
        ],
        capture_output=True,
        text=True,
    )
    assert config.returncode == 0, config.stderr
    resolved = yaml.safe_load(config.stdout)
    assert resolved["services"]["proxy"]["ports"][0]["host_ip"] == "127.0.0.1"
    # $$ keeps the variable for the container's shell: compose must not substitute the env file's value.
    command = " ".join(resolved["services"]["redis"]["command"])
    assert '--requirepass "$$REDIS_PASSWORD"' in command and "change-me" not in command
    # The example derives the URL from the password it lists: one value per secret.
    assert (
        resolved["services"]["agent-api-1"]["environment"]["DATABASE_URL"]
        == "postgresql://agent:change-me@postgres:5432/agent"
    )
    assert resolved["services"]["agent-api-1"]["environment"]["REDIS_URL"] == "redis://:change-me@redis:6379/0"
    lint = subprocess.run(
        [str(bindir / "compose-lint"), "--fail-on", "medium", str(out / "docker-compose.yml")],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout
    assert "no issues found" in lint.stdout


def test_env_example_derives_each_url_from_the_secret_it_embeds():
    from preview.compose import env_example

    example = env_example(
        {
            "DATABASE_URL": "postgresql://u:s3cr3t-passw0rd@db:5432/x?a=$b",
            "DB_PASSWORD": "s3cr3t-passw0rd",
            "API_KEY": "k" * 40,
            "SHORT": "abc",
            "HAS_SHORT": "xabcx",
        }
    )
    lines = [line for line in example.splitlines() if not line.startswith("#")]
    assert lines == [
        "API_KEY=change-me",
        "DB_PASSWORD=change-me",
        "HAS_SHORT=change-me",
        "SHORT=change-me",
        "DATABASE_URL=postgresql://u:${DB_PASSWORD}@db:5432/x?a=$$b",
    ]
    assert "s3cr3t" not in example


DOCKER_MISMATCHES = [
    (
        lambda cfg: cfg.__setitem__("agent-platform:namespace", {"name": "agents"}),
        "agent-platform:namespace: only applies when platform is kubernetes",
    ),
    (
        lambda cfg: cfg["agent-platform:services"][0]["autoscaling"].__setitem__("enabled", True),
        "agent-platform:services[agent-api].autoscaling.enabled: a Docker host has no autoscaler",
    ),
    (
        lambda cfg: cfg.__setitem__("agent-platform:ingress", {"enabled": True, "host": "a.example.com"}),
        "agent-platform:ingress.enabled: only applies when platform is kubernetes",
    ),
    (
        lambda cfg: cfg["agent-platform:docker"]["proxy"].__setitem__("hostPort", 0),
        "agent-platform:docker.proxy.hostPort",
    ),
]


@pytest.mark.parametrize("mutate,message", DOCKER_MISMATCHES, ids=[m for _, m in DOCKER_MISMATCHES])
def test_incoherent_docker_config_is_rejected(tmp_path, mutate, message):
    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "local", mutate)
    assert message in unlined(str(info.value)) and info.value.registered == 0


def test_docker_settings_on_a_kubernetes_stack_are_rejected(tmp_path):
    with pytest.raises(ProgramError, match="agent-platform:docker: only applies when platform is docker"):
        capture_with(tmp_path, "dev", lambda cfg: cfg.__setitem__("agent-platform:docker", {"host": "tcp://x:2375"}))


def test_every_tmpfs_is_owned_by_the_containers_own_user(local):
    # Docker gives a tmpfs over an image directory that directory's mode with root as owner:
    # without uid/gid a non-root Postgres cannot create its socket lock (seen in the e2e run).
    for name, c in containers(local).items():
        uid, _, gid = c.inputs["user"].partition(":")
        assert c.inputs["tmpfs"], name
        for path, options in c.inputs["tmpfs"].items():
            assert f"uid={uid}" in options.split(",") and f"gid={gid}" in options.split(","), (name, path, options)


def test_generated_passwords_are_secret_stack_outputs_the_env_example_points_to(local):
    # The compose file run beside a deployed stack needs the passwords Pulumi generated: they are
    # in the state, as secret outputs (`pulumi stack output --show-secrets`), never in config.
    assert local.outputs["postgresPassword"] == local.outputs["redisPassword"] == "[secret]"
    assert set(local.outputs) == {
        "url",
        "services",
        "serviceUrls",
        "releases",
        "database",
        "postgresPassword",
        "redisPassword",
    }
    example = render_files(local)["compose.env.example"]
    assert "`pulumi stack output --show-secrets postgresPassword` (redisPassword)" in example
    assert "--show-secrets` or" not in example and "config get --show-secrets" not in example


def test_a_replica_after_the_one_before_it_by_depends_on_only(local):
    """The engine replaces a delete-before-replace container's property dependents before it
    (pulumi/pulumi step_generator.go calculateDependentReplacements), so a replica that took an
    output of the one before it would go down with it; a dependsOn-only edge orders them."""
    c = containers(local)
    second = c["agent-api-2"]
    assert c["agent-api-1"].urn in second.dependencies
    for prop, deps in second.property_dependencies.items():
        assert c["agent-api-1"].urn not in deps, f"{prop} takes a value from agent-api-1"


def test_drain_budget_and_health_command_on_docker(tmp_path):
    def mutate(cfg):
        s = cfg["agent-platform:services"][0]
        s["drain"] = {"preStopSeconds": 0, "terminationGraceSeconds": 45, "budgetEnv": "WORKER_DRAIN_TIMEOUT"}
        s["probes"] = {"dockerCommand": ["wget", "-qO-", "http://127.0.0.1:8000/live"]}

    c = containers(capture_with(tmp_path, "local", mutate))["agent-api-1"]
    env = dict(str(e).split("=", 1) for e in c.raw_inputs["envs"])
    assert env["WORKER_DRAIN_TIMEOUT"] == "35"  # 45 - 0 - 10 s to exit
    assert c.inputs["healthcheck"]["tests"] == ["CMD", "wget", "-qO-", "http://127.0.0.1:8000/live"]
    assert c.inputs["stopTimeout"] == 45


def test_postgres_stops_with_a_fast_shutdown(local, compose):
    """SIGTERM is Postgres' smart shutdown, which waits for every client to disconnect: with the
    app's pools open it always ran into the grace period and ended in SIGKILL."""
    c = containers(local)
    assert c["postgres"].inputs["stopSignal"] == "SIGINT"
    assert compose["services"]["postgres"]["stop_signal"] == "SIGINT"
    assert {c[name].inputs["stopSignal"] for name in c if name != "postgres"} == {"SIGTERM"}


def test_connection_variables_are_named_per_service_on_docker(tmp_path):
    def mutate(cfg):
        s = cfg["agent-platform:services"][0]
        s["connectionEnv"] = {"database": "DATABASE_URI", "redis": "REDIS_URI"}
        s["migration"] = {"enabled": True}

    c = containers(capture_with(tmp_path, "local", mutate))
    env = {str(e).split("=", 1)[0] for e in c["agent-api-1"].raw_inputs["envs"]}
    assert {"DATABASE_URI", "REDIS_URI"} <= env and not {"DATABASE_URL", "REDIS_URL"} & env
    migration = {str(e).split("=", 1)[0] for e in c["agent-api-migrate"].raw_inputs["envs"]}
    assert "DATABASE_URI" in migration and "DATABASE_URL" not in migration


def test_tracing_reaches_the_app_containers_only(tmp_path):
    """Tracing's variables on every app replica (secret ones from the env file), on nothing else."""

    def on(cfg):
        cfg["agent-platform:tracing"] = {
            "enabled": True,
            "provider": "langfuse",
            "endpoint": "https://langfuse.example.com",
            "apiKeyKey": "langfuseSecretKey",
            "publicKeyKey": "langfusePublicKey",
        }

    doc = compose_document(capture_with(tmp_path, "local", on))[0]
    apps = {n: s for n, s in doc["services"].items() if "LANGFUSE_BASE_URL" in s.get("environment", {})}
    # Every replica of every service, and no data store, proxy, backup or migration container.
    services = stack_file("local")["config"]["agent-platform:services"]
    assert sorted(apps) == sorted(f"{s['name']}-{i}" for s in services for i in range(1, s.get("replicas", 3) + 1))
    for name, svc in apps.items():
        env = svc["environment"]
        assert env["OTEL_SERVICE_NAME"] == name.rsplit("-", 1)[0]
        assert env["LANGFUSE_BASE_URL"] == env["LANGFUSE_HOST"] == "https://langfuse.example.com"
        assert env["LANGFUSE_TRACING_ENVIRONMENT"] == "local"
        for key in ("LANGFUSE_SECRET_KEY", "LANGFUSE_PUBLIC_KEY"):
            assert env[key] == f"${{{key}:?set it in compose.env}}"
