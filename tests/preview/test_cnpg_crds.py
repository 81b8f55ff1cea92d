"""CloudNativePG and Barman Cloud objects against the operators' vendored CRDs, strictly."""

from __future__ import annotations

import copy
import json

import pytest

from preview import cnpg_crds
from preview.validate import validate_manifests
from tests.conftest import objects, shipped


@pytest.fixture(scope="module")
def prod_objects():
    return objects(shipped("prod"))


def _cnpg(objs) -> dict:
    return {key: obj for key, obj in objs.items() if cnpg_crds.handles(obj)}


def test_every_vendored_kind_loads():
    assert cnpg_crds.kinds() == [
        ("barmancloud.cnpg.io/v1", "ObjectStore"),
        ("postgresql.cnpg.io/v1", "Backup"),
        ("postgresql.cnpg.io/v1", "Cluster"),
        ("postgresql.cnpg.io/v1", "Pooler"),
        ("postgresql.cnpg.io/v1", "ScheduledBackup"),
    ]


def test_prod_objects_are_valid(prod_objects):
    cnpg = _cnpg(prod_objects)
    assert {kind for kind, _ in cnpg} == {"Cluster", "ObjectStore", "ScheduledBackup", "Pooler", "Backup"}
    for key, obj in cnpg.items():
        assert cnpg_crds.validate(obj) == [], key


def test_the_restore_drills_cluster_is_valid(prod_objects):
    drill = json.loads(prod_objects[("ConfigMap", "restore-drill")]["data"]["cluster.json"])
    assert cnpg_crds.validate(drill) == []


def test_a_misspelt_field_is_refused(prod_objects):
    cluster = copy.deepcopy(prod_objects[("Cluster", "postgres")])
    cluster["spec"]["storage"]["storageClas"] = cluster["spec"]["storage"].pop("storageClass")
    problems = cnpg_crds.validate(cluster)
    assert problems == [("spec.storage", "Additional properties are not allowed ('storageClas' was unexpected)")]


def test_a_wrong_enum_and_a_wrong_type_are_refused(prod_objects):
    pooler = copy.deepcopy(prod_objects[("Pooler", "postgres-pooler-rw")])
    pooler["spec"]["type"] = "rwx"
    pooler["spec"]["instances"] = "two"
    paths = {path for path, _ in cnpg_crds.validate(pooler)}
    assert paths == {"spec.type", "spec.instances"}


def test_an_unknown_kind_of_the_groups_is_a_finding():
    assert cnpg_crds.validate({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Clustr", "spec": {}}) == [
        ("apiVersion", "no vendored CRD schema for postgresql.cnpg.io/v1 Clustr")
    ]


def test_preserve_unknown_fields_is_honoured():
    schema = {
        "type": "object",
        "properties": {
            "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"a": {}}},
            "closed": {"type": "object", "properties": {"a": {}}},
        },
    }
    strict = cnpg_crds.strict(schema)
    assert "additionalProperties" not in strict["properties"]["open"]
    assert strict["properties"]["closed"]["additionalProperties"] is False


def test_an_invalid_object_fails_the_preview_validation(prod_objects):
    store = copy.deepcopy(prod_objects[("ObjectStore", "postgres-backups")])
    store["spec"]["retentionPolicy"] = "30 days"  # the CRD's pattern: ^[1-9][0-9]*[dwm]$
    findings = validate_manifests([("objectstore.yaml", store)], ["1.29"])
    assert [(f.path, f.file) for f in findings] == [("spec.retentionPolicy", "objectstore.yaml")]


def test_the_cached_schemas_are_the_built_ones(tmp_path, monkeypatch):
    """The strict schemas read from the cache are exactly those built from the vendored YAML; a cache
    made from other CRDs (another digest) is not read, and a cache that cannot be read is made again."""
    from preview import cnpg_crds

    monkeypatch.setattr(cnpg_crds, "CACHE", tmp_path / "cache")
    built = cnpg_crds._built_schemas()
    assert cnpg_crds._schemas() == built  # made and written
    (written,) = (tmp_path / "cache").iterdir()
    assert cnpg_crds._schemas() == built  # read back
    written.write_text("{not json")
    assert cnpg_crds._schemas() == built  # unreadable: made again
    stale = tmp_path / "cache" / "cloudnative-pg-000000000000000000000000.json"
    stale.write_text("[]")
    assert cnpg_crds._schemas() == built  # another digest's cache is never read
