"""Image pull secrets: every pod pulling from a private registry names the secret to pull with.

Source: Kubernetes "Pull an Image from a Private Registry" (kubernetes.io/docs/tasks/configure-pod-container/
pull-image-private-registry/) and PodSpec.imagePullSecrets (a list of LocalObjectReference, by name, in the
pod's namespace; a ServiceAccount's imagePullSecrets are added to its pods).
"""

from __future__ import annotations

from .base import Example, Resource, stack_rule
from .k8s import DEPLOYMENT, SERVICE_ACCOUNT, WORKLOADS, containers, name_of, namespace_of, pod_spec, with_change
from .samples import deployment

PULLING = with_change(deployment(), "spec.template.spec.imagePullSecrets", [{"name": "regcred"}])


def registry_of(image: str) -> str:
    """The registry host of an image reference (docker.io when the first part is no host)."""
    first, _, rest = str(image).partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


def _secrets(props, accounts) -> set[str]:
    spec = pod_spec(props)
    names = {s.get("name") for s in spec.get("imagePullSecrets") or [] if s.get("name")}
    account = accounts.get((namespace_of(props), spec.get("serviceAccountName") or "default")) or {}
    return names | {s.get("name") for s in account.get("imagePullSecrets") or [] if s.get("name")}


@stack_rule(
    "image-pull-secrets-consistent",
    "Pods pulling from a registry that other pods of the stack pull from with imagePullSecrets name a pull "
    "secret too (in the pod spec or through its ServiceAccount), and every entry names a Secret (Kubernetes: "
    "Pull an Image from a Private Registry).",
    "high",
    "Set imagePullSecrets (stack config `imagePullSecrets`) so that every pod, jobs included, carries them.",
    Example(
        [Resource.of(PULLING, DEPLOYMENT), Resource.of(with_change(PULLING, "metadata.name", "worker"), DEPLOYMENT)],
        [
            Resource.of(PULLING, DEPLOYMENT),
            Resource.of(
                with_change(with_change(PULLING, "metadata.name", "worker"), "spec.template.spec.imagePullSecrets", []),
                DEPLOYMENT,
            ),
        ],
    ),
    tags=("images",),
    reads=(*WORKLOADS, SERVICE_ACCOUNT),
)
def image_pull_secrets_consistent(resources, config):
    accounts = {(namespace_of(r.props), name_of(r.props)): r.props for r in resources if r.type == SERVICE_ACCOUNT}
    pods = [r for r in resources if r.type in WORKLOADS]
    private: set[tuple[str, str]] = set()
    for r in pods:
        for entry in pod_spec(r.props).get("imagePullSecrets") or []:
            if not entry.get("name"):
                yield f"{r.props.get('kind')} {name_of(r.props)}: an imagePullSecrets entry names no Secret", r.urn
        if _secrets(r.props, accounts):
            private |= {(namespace_of(r.props), registry_of(c.get("image", ""))) for c in containers(r.props)}
    for r in pods:
        if _secrets(r.props, accounts):
            continue
        for c in containers(r.props):
            registry = registry_of(c.get("image", ""))
            if (namespace_of(r.props), registry) in private:
                yield (
                    f"{r.props.get('kind')} {name_of(r.props)} container {c.get('name')}: pulls from {registry} "
                    "without the imagePullSecrets the stack's other pods use there",
                    r.urn,
                )
                break
