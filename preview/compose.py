"""The compose equivalent of exactly what the program declares on a Docker host.

Built from the captured pulumi_docker resources — containers, networks, volumes,
images — not from the stack config, so the file cannot drift from the program.
Secret environment values never appear: each becomes `${NAME:?...}`, read from an
env file (`compose.env`, of which `compose.env.example` lists the names); literal
`$` are escaped as `$$` so compose does not interpolate them.
"""

from __future__ import annotations

from typing import Any

from preview.engine import Capture, CapturedResource, is_one_shot

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
ENV_FILE_HINT = "set it in compose.env"


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    return value


def _environment(r: CapturedResource, secrets: dict[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    raw = r.raw_inputs.get("envs") or []
    for i, entry in enumerate(raw):
        name, _, value = str(entry).partition("=")
        if f"envs[{i}]" in r.secret_paths or "envs" in r.secret_paths:
            secrets[name] = value  # kept only to see which secret embeds which (env_example); never written
            env[name] = f"${{{name}:?{ENV_FILE_HINT}}}"
        else:
            env[name] = _escape(value)
    return dict(sorted(env.items()))


def _service(
    r: CapturedResource,
    networks: dict[str, str],
    volumes: dict[str, str],
    containers: dict[str, str],
    one_shots: set[str],
    secrets: dict[str, str],
) -> dict[str, Any]:
    i = r.inputs
    service: dict[str, Any] = {"image": i["image"]}
    if i.get("user"):
        service["user"] = i["user"]
    if i.get("command"):
        service["command"] = _escape(i["command"])
    env = _environment(r, secrets)
    if env:
        service["environment"] = env
    service["read_only"] = bool(i.get("readOnly"))
    if i.get("tmpfs"):
        service["tmpfs"] = [f"{path}:{opts}" if opts else path for path, opts in sorted(i["tmpfs"].items())]
    caps = i.get("capabilities") or {}
    if caps.get("drops"):
        service["cap_drop"] = caps["drops"]
    if caps.get("adds"):
        service["cap_add"] = caps["adds"]
    if i.get("securityOpts"):
        service["security_opt"] = i["securityOpts"]
    if i.get("restart"):
        service["restart"] = i["restart"]
    if i.get("stopSignal"):
        service["stop_signal"] = i["stopSignal"]
    if i.get("stopTimeout"):
        service["stop_grace_period"] = f"{i['stopTimeout']}s"
    hc = i.get("healthcheck") or {}
    if hc.get("tests"):
        service["healthcheck"] = {
            k: v
            for k, v in {
                "test": _escape(hc["tests"]),
                "interval": hc.get("interval"),
                "timeout": hc.get("timeout"),
                "retries": hc.get("retries"),
                "start_period": hc.get("startPeriod"),
            }.items()
            if v is not None
        }
    limits = {}
    if i.get("memory"):
        limits["memory"] = f"{i['memory']}M"
    if i.get("cpus"):
        limits["cpus"] = str(i["cpus"])
    if limits:
        service["deploy"] = {"resources": {"limits": limits}}
    if i.get("networksAdvanced"):
        service["networks"] = {
            networks.get(n["name"], n["name"]): ({"aliases": n["aliases"]} if n.get("aliases") else None)
            for n in i["networksAdvanced"]
        }
    if i.get("networkMode"):
        service["network_mode"] = i["networkMode"]
    if i.get("volumes"):
        service["volumes"] = [
            {
                "type": "volume",
                "source": volumes.get(v["volumeName"], v["volumeName"]),
                "target": v["containerPath"],
                **({"read_only": True} if v.get("readOnly") else {}),
            }
            for v in i["volumes"]
        ]
    if i.get("ports"):
        service["ports"] = [
            {
                "target": p["internal"],
                "published": str(p["external"]),
                "host_ip": p.get("ip") or "0.0.0.0",
                "protocol": p.get("protocol") or "tcp",
            }
            for p in i["ports"]
        ]
    depends = sorted(containers[d] for d in r.dependencies if d in containers)
    if depends:
        # What `pulumi up` waits for: a one-shot's successful end, a service's health.
        service["depends_on"] = {
            name: {"condition": "service_completed_successfully" if name in one_shots else "service_healthy"}
            for name in depends
        }
    return service


def compose_document(capture: Capture) -> tuple[dict[str, Any], dict[str, str]] | None:
    """(compose document, secret variables by name with the values the program gave them), or None when
    the stack declares no container. The values are for env_example's derivations only."""
    containers = [r for r in capture.resources if r.type == CONTAINER]
    if not containers:
        return None
    networks = {r.inputs.get("name", r.name): r.name for r in capture.resources if r.type == NETWORK}
    volumes = {r.inputs.get("name", r.name): r.name for r in capture.resources if r.type == VOLUME}
    by_urn = {r.urn: r.name for r in containers}
    one_shots = {r.name for r in containers if is_one_shot(r.inputs)}
    secrets: dict[str, str] = {}
    services = {
        r.name: _service(r, networks, volumes, by_urn, one_shots, secrets)
        for r in sorted(containers, key=lambda r: r.name)
    }
    doc: dict[str, Any] = {"name": f"{capture.project}-{capture.stack}", "services": services}
    doc["networks"] = {
        r.name: {"name": r.inputs.get("name", r.name), **({"internal": True} if r.inputs.get("internal") else {})}
        for r in sorted(capture.resources, key=lambda r: r.name)
        if r.type == NETWORK
    }
    doc["volumes"] = {
        r.name: {"name": r.inputs.get("name", r.name)}
        for r in sorted(capture.resources, key=lambda r: r.name)
        if r.type == VOLUME
    }
    return doc, dict(sorted(secrets.items()))


MIN_EMBEDDED = 8  # a shorter value could be inside another by chance


def env_example(secrets: dict[str, str]) -> str:
    """One line per secret the compose file asks for: `change-me` for each value to set, and each
    value that embeds another (DATABASE_URL embeds POSTGRES_PASSWORD) written as a template over it,
    `${POSTGRES_PASSWORD}`, which Compose expands from the lines above it: one value per secret."""
    templates: dict[str, str] = {}
    for name, value in secrets.items():
        template = value
        for other, embedded in sorted(secrets.items(), key=lambda kv: -len(kv[1])):
            if other != name and len(embedded) >= MIN_EMBEDDED and embedded in template:
                template = template.replace(embedded, f"${{{other}}}")
        if template != value:
            templates[name] = template.replace("$", "$$").replace("$${", "${")  # only the references expand
    lines = [
        "# Copy to compose.env, set each change-me, never commit the filled file. API keys: your secret",
        "# store (or `pulumi config get <key>` on the stack). Generated passwords are in the stack's state:",
        "# `pulumi stack output --show-secrets postgresPassword` (redisPassword); without a deployed stack,",
        "# new URL-safe ones (e.g. `openssl rand -hex 16`): Compose builds the URLs below from them.",
    ]
    lines += [f"{name}=change-me" for name in sorted(secrets) if name not in templates]
    lines += [f"{name}={templates[name]}" for name in sorted(secrets) if name in templates]
    return "\n".join(lines) + "\n"
