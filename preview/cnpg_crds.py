"""Strict validation of CloudNativePG and Barman Cloud objects against the operators' own CRDs.

The CRD YAML files are vendored in preview/crds/cloudnative-pg/ (source and version in its README).
Each object is checked against its served version's openAPIV3Schema the way a strict server-side
apply treats it: a field the schema does not declare is refused (additionalProperties false on
every object schema with `properties`, unless it says x-kubernetes-preserve-unknown-fields), as
are wrong types, enums, patterns and missing required fields. `metadata` is the API server's
ObjectMeta and is left to it (kubernetes-validate checks built-in kinds' metadata the same way).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

HERE = Path(__file__).with_name("crds") / "cloudnative-pg"
# libyaml's parser (PyYAML's C binding), the same data as yaml.safe_load: the pure-Python parser took
# over a second on these 1.2 MB of CRDs, most of a small stack's validation. The fallback keeps a
# source build of PyYAML working.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
GROUPS = ("postgresql.cnpg.io", "barmancloud.cnpg.io")


def handles(obj: dict[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).split("/")[0] in GROUPS


def strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever the CRD does not preserve them."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) if k not in ("enum", "default", "example", "required") else v for k, v in schema.items()}
    # Kubernetes' structural-schema extensions mean nothing to jsonschema: drop them.
    for key in list(out):
        if key.startswith("x-kubernetes-") and key != "x-kubernetes-preserve-unknown-fields":
            del out[key]
    if (
        "properties" in out
        and not schema.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in out
    ):
        out["additionalProperties"] = False
    out.pop("x-kubernetes-preserve-unknown-fields", None)
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


CACHE = HERE.parent / ".cache"  # the strict schemas as JSON (git-ignored), by a digest of what made them


def _built_schemas() -> list[tuple[str, str, Any]]:
    """(apiVersion, kind, strict schema) of every served version of every vendored CRD."""
    found = []
    for path in sorted(HERE.glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=_Loader)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served"):
                continue
            schema = dict(version["schema"]["openAPIV3Schema"])
            props = dict(schema.get("properties") or {})
            props["metadata"] = {"type": "object"}  # ObjectMeta: the API server's, not the CRD's
            schema["properties"] = props
            found.append((f"{group}/{version['name']}", kind, strict(schema)))
    return found


def _schemas() -> list[tuple[str, str, Any]]:
    """_built_schemas, read from the cache when this module and the CRDs are those it was made from.
    Parsing the 1.2 MB of CRD YAML took most of the 0.2 s these validators cost every preview (on its
    critical path); JSON is read in a tenth of that. A cache that cannot be read or written is made again."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(HERE.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    cached = CACHE / f"cloudnative-pg-{digest.hexdigest()[:24]}.json"
    try:
        return [tuple(entry) for entry in json.loads(cached.read_text())]
    except (OSError, ValueError):
        pass
    schemas = _built_schemas()
    try:
        CACHE.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=CACHE, suffix=".tmp", delete=False) as tmp:
            json.dump(schemas, tmp)
        os.replace(tmp.name, cached)
    except OSError:
        pass
    return schemas


@functools.cache
def _validators() -> dict[tuple[str, str], jsonschema_rs.Validator]:
    return {(api_version, kind): jsonschema_rs.validator_for(schema) for api_version, kind, schema in _schemas()}


def kinds() -> list[tuple[str, str]]:
    """(apiVersion, kind) of every vendored schema."""
    return sorted(_validators())


def validate(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(JSON path, message) per problem; an apiVersion/kind with no vendored CRD is one problem."""
    validator = _validators().get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    if validator is None:
        return [("apiVersion", f"no vendored CRD schema for {obj.get('apiVersion')} {obj.get('kind')}")]
    problems = []
    for error in validator.iter_errors(obj):
        path = ".".join(str(p) for p in error.instance_path)
        message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
        problems.append((path, message))
    return sorted(problems)
