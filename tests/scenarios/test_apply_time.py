"""Changes a preview would pass but the API server or the operator refuses at apply: the preview refuses
them first, with the reason and the way that works (preview/changes.py apply_verdict)."""

from __future__ import annotations

from preview.changes import classify_captures as classify


def refused(run, mutate):
    return {(c.kind, c.name): c.refused for c in classify(run("prod"), run("prod", mutate)) if c.refused}


def test_a_cloudnativepg_volume_never_shrinks(run):
    got = refused(run, lambda cfg: cfg["agent-platform:postgres"]["persistence"].update(size="50Gi"))
    assert list(got) == [("Cluster", "postgres")]
    assert got[("Cluster", "postgres")].startswith("storage 100Gi -> 50Gi: a volume never shrinks")
    # Growing is an ordinary update (the operator expands the claims).
    assert refused(run, lambda cfg: cfg["agent-platform:postgres"]["persistence"].update(size="200Gi")) == {}


def test_a_statefulset_claim_never_shrinks(run):
    got = refused(run, lambda cfg: cfg["agent-platform:redis"]["persistence"].update(size="1Gi"))
    [(key, reason)] = got.items()
    assert key == ("StatefulSet", "redis") and "a volume never shrinks" in reason
