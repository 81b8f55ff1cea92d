"""Kubernetes labels shared by every object of the stack."""

from __future__ import annotations

import re

PART_OF = "agent-platform"
MANAGED_BY = "pulumi"
VERSION = "app.kubernetes.io/version"

# Pods that may open connections to a data store carry its client label; the data
# store's NetworkPolicy admits exactly these pods.
CLIENT_OF = "agent-platform.io/client-of-{store}"
# Every pod of an agent service carries this, so namespace-wide rules can find them.
ROLE = "agent-platform.io/role"
# A release's workloads say which they are (canary, blue, green: never active or idle, which
# would change, and roll the pods, on every switch); a rolling service's workload carries none.
RELEASE_TRACK = "agent-platform.io/release-track"
# A Service that carries a pod's metrics port, the one the ServiceMonitor selects: each pod is
# scraped through exactly one Service (never through a blue-green switch, a headless Service).
SCRAPED = "agent-platform.io/scraped"

# A label value as the API server accepts it: k8s.io/apimachinery/pkg/util/validation
# validation.go IsValidLabelValue (qualifiedNameFmt, LabelValueMaxLength = 63).
LABEL_VALUE_MAX = 63
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def label_value(text: str) -> str:
    """text cut to 63 characters, then trimmed so it ends alphanumerically (the API server's rule)."""
    value = text[:LABEL_VALUE_MAX].rstrip("-_.")
    if not _LABEL_VALUE.match(value):
        raise ValueError(f"{text!r} cannot be a label value")
    return value


def is_label_value(text: str) -> bool:
    return len(text) <= LABEL_VALUE_MAX and bool(_LABEL_VALUE.match(text))


def selector_labels(name: str) -> dict[str, str]:
    """Immutable selector of a workload's pods (Deployment/StatefulSet selectors cannot change)."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}


def standard_labels(name: str, component: str, environment: str, version: str | None = None) -> dict[str, str]:
    """The recommended app.kubernetes.io labels plus the environment."""
    labels = {
        **selector_labels(name),
        "app.kubernetes.io/instance": f"{name}-{environment}",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "agent-platform.io/environment": environment,
    }
    if version:
        labels[VERSION] = label_value(version)
    return labels


def stable_labels(labels: dict[str, str]) -> dict[str, str]:
    """labels without those that change on a routine update (the image version).

    For immutable fields: pulumi-kubernetes replaces a StatefulSet whose
    spec.volumeClaimTemplates change (provider/pkg/provider/provider.go Diff ->
    forceNewProperties, from the API server refusing updates to anything but a
    StatefulSet's replicas, template, updateStrategy, persistentVolumeClaimRetentionPolicy
    and minReadySeconds), so a version label there turns an image bump into a replacement.
    """
    return {k: v for k, v in labels.items() if k != VERSION}


def image_version(image: str) -> str | None:
    """The tag of an image reference, as a label value (`1.4.2`), if it has one."""
    from agent_platform.settings.values import split_image

    _, tag, _ = split_image(image)
    return label_value(tag) if tag else None
