"""Kubernetes labels shared by every object of the stack."""

from __future__ import annotations

PART_OF = "agent-platform"
MANAGED_BY = "pulumi"

# Pods that may open connections to a data store carry its client label; the data
# store's NetworkPolicy admits exactly these pods.
CLIENT_OF = "agent-platform.io/client-of-{store}"
# Every pod of an agent service carries this, so namespace-wide rules can find them.
ROLE = "agent-platform.io/role"


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
        labels["app.kubernetes.io/version"] = version[:63]
    return labels


def image_version(image: str) -> str | None:
    """The tag of an image reference, as a label value (`1.4.2`), if it has one."""
    from components.config import split_image

    _, tag, _ = split_image(image)
    return tag
