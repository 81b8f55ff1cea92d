"""Hygiene: labels, namespaces, current API versions, quotas."""

from __future__ import annotations

from .base import Example, Resource, resource_rule, stack_rule
from .k8s import DEPLOYMENT, LIMIT_RANGE, QUOTA, WORKLOADS, name_of, namespace_of, with_change
from .samples import deployment, quota

GOOD = deployment()
RECOMMENDED = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)
# apiVersions removed or beta in the Kubernetes versions this project targets (1.29+).
DEPRECATED = {
    "extensions/v1beta1",
    "apps/v1beta1",
    "apps/v1beta2",
    "policy/v1beta1",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "networking.k8s.io/v1beta1",
    "batch/v1beta1",
    "rbac.authorization.k8s.io/v1beta1",
    "storage.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "discovery.k8s.io/v1beta1",
}


@resource_rule(
    "recommended-labels",
    "Workloads carry the recommended app.kubernetes.io labels.",
    "low",
    f"Set the labels {', '.join(RECOMMENDED)} on the object.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, "metadata.labels", {"app": "api"})),
    tags=("hygiene",),
)
def recommended_labels(props, config):
    labels = (props.get("metadata") or {}).get("labels") or {}
    missing = [k for k in RECOMMENDED if k not in labels]
    if missing:
        yield f"missing labels: {', '.join(missing)}"


@resource_rule(
    "explicit-namespace",
    "Namespaced objects name their namespace, and it is not `default`.",
    "medium",
    "Set metadata.namespace to the stack's namespace.",
    ("kubernetes:*",),
    Example(GOOD, with_change(GOOD, "metadata.namespace", "default")),
    tags=("hygiene",),
)
def explicit_namespace(props, config):
    if props.get("kind") in (
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "CustomResourceDefinition",
        "PersistentVolume",
    ):
        return
    ns = namespace_of(props)
    if ns in ("", "default"):
        yield f"{props.get('kind')} {name_of(props)}: namespace {ns or '(unset)'!r}"


@resource_rule(
    "no-deprecated-api",
    "Objects use current apiVersions (no removed or beta APIs).",
    "high",
    "Move to the GA apiVersion (e.g. policy/v1, autoscaling/v2, networking.k8s.io/v1).",
    ("kubernetes:*",),
    Example(GOOD, with_change(GOOD, "apiVersion", "extensions/v1beta1")),
    tags=("hygiene",),
)
def no_deprecated_api(props, config):
    if props.get("apiVersion") in DEPRECATED:
        yield f"{props.get('kind')} uses {props.get('apiVersion')}"


@stack_rule(
    "namespace-resource-quota",
    "Every namespace that runs workloads has a ResourceQuota.",
    "medium",
    "Add a ResourceQuota (the AgentNamespace component declares one).",
    Example([Resource.of(GOOD, DEPLOYMENT), Resource.of(quota(), QUOTA)], [Resource.of(GOOD, DEPLOYMENT)]),
    tags=("hygiene",),
    reads=(QUOTA, *WORKLOADS),
)
def namespace_resource_quota(resources, config):
    quotas = {namespace_of(r.props) for r in resources if r.type == QUOTA}
    for ns in sorted({namespace_of(r.props) for r in resources if r.type in WORKLOADS} - quotas):
        yield f"namespace {ns}: no ResourceQuota", ""


LIMITS = {
    "apiVersion": "v1",
    "kind": "LimitRange",
    "metadata": {"name": "limits", "namespace": "agents"},
    "spec": {
        "limits": [
            {
                "type": "Container",
                "default": {"cpu": "500m", "memory": "512Mi"},
                "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
            }
        ]
    },
}


@resource_rule(
    "limitrange-container-defaults",
    "A LimitRange gives containers default requests and limits for cpu and memory, so a container that names none "
    "is still bounded and schedulable (kubernetes.io/docs/concepts/policy/limit-range/).",
    "low",
    "Add a `type: Container` limit with default and defaultRequest for cpu and memory (namespace.limitRange).",
    (LIMIT_RANGE,),
    Example(LIMITS, with_change(LIMITS, "spec.limits.0.default", {"cpu": "500m"})),
    tags=("resources",),
)
def limitrange_container_defaults(props, config):
    container = [x for x in (props.get("spec") or {}).get("limits") or [] if x.get("type") == "Container"]
    if not container:
        yield "no `type: Container` limit"
    for limit in container:
        for field in ("default", "defaultRequest"):
            for resource in ("cpu", "memory"):
                if not (limit.get(field) or {}).get(resource):
                    yield f"Container limit has no {field}.{resource}"
