"""The promotion report `--against` leads with: what differs between two stacks' apps, apart from
what is meant to differ between environments.

App drift is what a promotion should carry and has not, or what one stack has that the other lacks:
a service in one only; per service its release (the image, and what travels with it: the keys of
preview/promote.py RELEASE_KEYS), the env keys and secretEnv names in one only; and an image the
target runs that the source has not run (nothing in the source stack vouches for it). The values of
replicas, resources, autoscaling, hosts, backups and the like are the environments' own: they are
counted, by setting, never listed one by one.
"""

from __future__ import annotations

from typing import Any

from agent_platform.settings.service import AgentServiceConfig
from agent_platform.settings.stack import StackConfig

from preview.promote import RELEASE_KEYS


def _dumped(model: Any) -> dict[str, Any]:
    return model.model_dump(by_alias=True, mode="json")


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _images(s: AgentServiceConfig) -> set[str]:
    """Every image a service runs: its own, its canary's, both colours'."""
    images = {s.image}
    r = s.rollout
    if r.strategy == "canary" and r.canary is not None and r.canary.image:
        images.add(r.canary.image)
    if r.strategy == "blueGreen" and r.blue_green is not None:
        images |= {i for i in (r.blue_green.blue_image, r.blue_green.green_image) if i}
    return images


def _same_release(a: str, b: str) -> bool:
    """Two image references to the same release: equal, or the same digest, or the same tag where one
    of them has no digest (dev runs a tag, prod pins the digest of that tag)."""
    if a == b:
        return True
    (name_a, _, digest_a), (name_b, _, digest_b) = a.partition("@"), b.partition("@")
    if digest_a and digest_b:
        return digest_a == digest_b
    return name_a == name_b


RELEASE_PATHS = tuple(".".join(path) for path, _what in RELEASE_KEYS)
APP_KEYS = ("name", "image", "env", "secretEnv", *RELEASE_PATHS)


def _service_drift(src: str, a: AgentServiceConfig, dst: str, b: AgentServiceConfig) -> list[str]:
    out = []
    if not _same_release(a.image, b.image):
        out.append(f"image: {src} runs {a.image}, {dst} runs {b.image}")
    elif "@" in b.image and "@" not in a.image:
        out.append(f"image: {dst} pins {b.image.partition('@')[2][:19]}… of the tag {src} runs unpinned")
    da, db = _leaves(_dumped(a)), _leaves(_dumped(b))
    for path in RELEASE_PATHS:
        va = {k: v for k, v in da.items() if k == path or k.startswith(path + ".")}
        vb = {k: v for k, v in db.items() if k == path or k.startswith(path + ".")}
        if va != vb:
            out.append(f"{path}: differs (it travels with the image)")
    for block, what in (("env", "env keys"), ("secretEnv", "secretEnv names")):
        ka, kb = set(getattr(a, _field(block))), set(getattr(b, _field(block)))
        if ka - kb:
            out.append(f"{what} only in {src}: {', '.join(sorted(ka - kb))}")
        if kb - ka:
            out.append(f"{what} only in {dst}: {', '.join(sorted(kb - ka))}")
    return out


def _field(alias: str) -> str:
    return next(n for n, f in AgentServiceConfig.model_fields.items() if (f.alias or n) == alias)


def _environment_settings(src: StackConfig, dst: StackConfig) -> list[str]:
    """The settings whose values differ between the two stacks and are the environments' own, by name."""
    a, b = _leaves(_dumped(src)), _leaves(_dumped(dst))
    names = set()
    for path in set(a) | set(b):
        if a.get(path) == b.get(path):
            continue
        parts = path.split(".")
        if parts[0] == "services":  # a list: compared per service, by name, below
            continue
        names.add(".".join(parts[:2]) if parts[0] in ("postgres", "redis", "kubernetes", "docker") else parts[0])
    by_name = {s.name: s for s in dst.services}
    for s in src.services:
        other = by_name.get(s.name)
        if other is None:
            continue
        sa, sb = _leaves(_dumped(s)), _leaves(_dumped(other))
        for path in set(sa) | set(sb):
            if sa.get(path) != sb.get(path) and not any(path == k or path.startswith(k + ".") for k in APP_KEYS):
                names.add(f"services.{path.split('.')[0]}")
    return sorted(names)


def drift(src: str, source: StackConfig, dst: str, target: StackConfig) -> dict[str, Any]:
    """The report as data: per service its drift, services in one stack only, unvouched images, and
    the names of the environment settings that differ."""
    a, b = {s.name: s for s in source.services}, {s.name: s for s in target.services}
    per_service = {name: _service_drift(src, a[name], dst, b[name]) for name in a if name in b}
    unvouched = {
        name: sorted(i for i in _images(b[name]) if not any(_same_release(i, j) for j in _images(a[name])))
        for name in b
        if name in a
    }
    return {
        "from": src,
        "to": dst,
        "onlyIn": {src: sorted(set(a) - set(b)), dst: sorted(set(b) - set(a))},
        "services": per_service,
        "notRunIn": {src: {k: v for k, v in unvouched.items() if v}},
        "environmentSettings": _environment_settings(source, target),
    }


def report_lines(d: dict[str, Any]) -> list[str]:
    """The report for a person: a few lines, grouped per service."""
    src, dst = d["from"], d["to"]
    lines = [f"Promotion {src} -> {dst}: app drift (the environments' own settings are counted, not listed)"]
    for stack, names in d["onlyIn"].items():
        if names:
            lines.append(f"  services only in {stack}: {', '.join(names)}")
    for name, items in d["services"].items():
        if not items:
            lines.append(f"  {name}: no drift")
            continue
        lines.append(f"  {name}:")
        lines += [f"    {item}" for item in items]
        if any(i.startswith(f"image: {src} runs") for i in items):
            lines.append(f"    promote: venv/bin/python -m preview.promote {name} --from {src} --to {dst}")
    for name, images in d["notRunIn"][src].items():
        for image in images:
            lines.append(f"  {dst} runs an image {src} has not run: {name} {image}")
    settings = d["environmentSettings"]
    if settings:
        shown = ", ".join(settings[:8]) + (f", … +{len(settings) - 8}" if len(settings) > 8 else "")
        lines.append(f"  {len(settings)} environment settings differ, as environments do: {shown}")
    return lines
