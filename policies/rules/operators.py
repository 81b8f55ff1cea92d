"""What the operators and controllers the stack relies on make at run time, read from their own source.

The one picture of each: the builders select operator-made pods by it, the quota arithmetic counts
its pods, and the preview's connectivity table and the policy pack model them by it. The pack is
self-contained, so `policies/rules/operators.py` is a byte-identical copy of this file (a test keeps
the two the same); this module therefore imports nothing but the standard library.

Every rule cites the upstream file and line at the version the stack pins:
- CloudNativePG v1.30.0 (commit 4b5e244a7d031f67e025c83c1555e7726ecbbfa1), whose CRDs are vendored in
  preview/crds/cloudnative-pg/;
- the Barman Cloud plugin v0.14.0 (commit 1e13020fe5f09fd8fc29ea03828f7b61375b3721), likewise;
- the data planes outside the stack (KEDA, Prometheus, ingress-nginx, a Gateway, CoreDNS) by the labels
  their upstream installs give the pods that open connections (PEERS below), at the versions whose
  CRD types the preview validates with (preview/crds/package.json).

tests/components/test_operators.py holds one test per rule: each fails when the model departs from
the source (a label the operator overwrites, a sidecar left out of the quota).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

# --- CloudNativePG: labels (pkg/utils/labels_annotations.go) -------------------------------------------
CNPG_CLUSTER_LABEL = "cnpg.io/cluster"  # :79 ClusterLabelName
CNPG_POD_ROLE_LABEL = "cnpg.io/podRole"  # :92 PodRoleLabelName
CNPG_INSTANCE_NAME_LABEL = "cnpg.io/instanceName"  # :95 InstanceNameLabelName
CNPG_POOLER_NAME_LABEL = "cnpg.io/poolerName"  # :104 PgbouncerNameLabel
CNPG_INSTANCE_ROLE_LABEL = "cnpg.io/instanceRole"  # :112 ClusterInstanceRoleLabelName (primary | replica)
CNPG_APP_NAME = "postgresql"  # :49 AppName, set as app.kubernetes.io/name on every pod it makes
CNPG_MANAGER_NAME = "cloudnative-pg"  # :46 ManagerName
ROLE_INSTANCE = "instance"
ROLE_POOLER = "pooler"
APP_NAME_LABEL = "app.kubernetes.io/name"

# --- CloudNativePG: ports -------------------------------------------------------------------------
# pkg/specs/pods.go:262-277: the postgres container's ports (postgres.ServerPort, url.PostgresMetricsPort,
# url.StatusPort: the instance manager's status endpoint the operator calls).
CNPG_INSTANCE_PORTS = (("postgresql", 5432, "TCP"), ("metrics", 9187, "TCP"), ("status", 8000, "TCP"))
# pkg/specs/pgbouncer/deployments.go:87-94: pgbouncer (PgBouncerPort 5432) and metrics (url.PgBouncerMetricsPort).
CNPG_POOLER_PORTS = (("pgbouncer", 5432, "TCP"), ("metrics", 9127, "TCP"))


def cnpg_instance_labels(cluster: str, inherited: Mapping[str, str], instance: str = "") -> dict[str, str]:
    """The labels of a Cluster's instance pod: the operator's own (pkg/specs/pods.go:545-553), then
    `spec.inheritedMetadata.labels` over them (internal/controller/cluster_create.go:1586 calls
    utils.InheritLabels, pkg/utils/labels_annotations.go:450-469, which writes the fixed labels last)."""
    labels = {
        CNPG_CLUSTER_LABEL: cluster,
        CNPG_INSTANCE_NAME_LABEL: instance or f"{cluster}-1",
        CNPG_POD_ROLE_LABEL: ROLE_INSTANCE,
        APP_NAME_LABEL: CNPG_APP_NAME,
        "app.kubernetes.io/instance": cluster,
        "app.kubernetes.io/component": "database",
        "app.kubernetes.io/managed-by": CNPG_MANAGER_NAME,
    }
    labels.update(inherited)
    return labels


def cnpg_instance_selector(cluster: str) -> dict[str, str]:
    """Labels every instance pod of `cluster` keeps, whatever its role: the `-r` Service's selector
    (pkg/specs/services.go:95-98). `-rw` and `-ro` add cnpg.io/instanceRole (:151-154, :123-126), which
    the instance manager moves on a switchover, so a path must hold for every instance."""
    return {CNPG_CLUSTER_LABEL: cluster, CNPG_POD_ROLE_LABEL: ROLE_INSTANCE}


def cnpg_pooler_labels(pooler: str, cluster: str, template: Mapping[str, str]) -> dict[str, str]:
    """The labels of a Pooler's pods: the Pooler's template, then the operator's own over it
    (pkg/specs/pgbouncer/deployments.go:56-63, podspec.NewFrom(template).WithLabel(...) at :57-63): a template's
    app.kubernetes.io/name never reaches the pods, `postgresql` does."""
    return {
        **template,
        CNPG_POOLER_NAME_LABEL: pooler,
        CNPG_CLUSTER_LABEL: cluster,
        CNPG_POD_ROLE_LABEL: ROLE_POOLER,
        APP_NAME_LABEL: CNPG_APP_NAME,
        "app.kubernetes.io/instance": cluster,
        "app.kubernetes.io/component": "pooler",
        "app.kubernetes.io/managed-by": CNPG_MANAGER_NAME,
    }


def cnpg_pooler_selector(pooler: str) -> dict[str, str]:
    """The label that selects a Pooler's pods, as the operator's own Deployment selector and Service do
    (pkg/specs/pgbouncer/deployments.go:160-164; pkg/specs/pgbouncer/services.go:58 SetPGBouncerSelector)."""
    return {CNPG_POOLER_NAME_LABEL: pooler}


def cnpg_cluster_services(cluster: str) -> list[tuple[str, dict[str, str], tuple[dict, ...]]]:
    """(name, selector as a path must hold, ports) of the Services the operator makes for a Cluster:
    `-rw`, `-ro`, `-r` (pkg/specs/services.go:76-155), each port `postgres` 5432 -> 5432 (:35-44).
    `-any` is the instances' headless Service for their own DNS names (:47-73), not a client endpoint."""
    ports = ({"name": "postgres", "port": 5432, "targetPort": 5432, "protocol": "TCP"},)
    return [(f"{cluster}-{suffix}", cnpg_instance_selector(cluster), ports) for suffix in ("rw", "ro", "r")]


def cnpg_pooler_service(pooler: str) -> tuple[str, dict[str, str], tuple[dict, ...]]:
    """The Service a Pooler gets, named as the Pooler: port pgbouncer 5432 -> the pods' named port
    (pkg/specs/pgbouncer/services.go:52-57)."""
    ports = ({"name": "pgbouncer", "port": 5432, "targetPort": "pgbouncer", "protocol": "TCP"},)
    return pooler, cnpg_pooler_selector(pooler), ports


def cnpg_generated_secrets(cluster: str, app_secret_given: bool) -> list[str]:
    """Secrets the operator generates for a Cluster, named by api/v1/cluster_funcs.go: the CA (:639
    GetServerCASecretName), the server certificate (:648), the replication client certificate (:689)
    and the owner's basic-auth `<cluster>-app` (:570) unless bootstrap names its own `secret`;
    superuser access is off (enableSuperuserAccess false), so no `-superuser` (:498)."""
    return [
        f"{cluster}-ca",
        f"{cluster}-server",
        f"{cluster}-replication",
        *([] if app_secret_given else [f"{cluster}-app"]),
    ]


# --- Pods the operators run in the namespace, for the quota ---------------------------------------------
# A pod as ordered containers: (name, whose resources, restartable). `whose` names where the amounts
# come from: "cluster" (Cluster spec.resources), "sidecar" (the ObjectStore's
# spec.instanceSidecarConfiguration.resources), "pooler" (the Pooler template's pgbouncer container),
# "pod-level" (the Pooler template's pod-level spec.resources: unset, so the LimitRange's defaults).
Container = tuple[str, str, bool]


def cnpg_instance_pod(plugin: bool) -> tuple[list[Container], list[Container]]:
    """(containers, init containers) of an instance pod: `postgres` with the Cluster's resources
    (pkg/specs/pods.go:255-261), the `bootstrap-controller` init container with the same
    (pkg/specs/containers.go:36-45) and, when the Cluster names the Barman Cloud plugin (to archive or
    to recover), the plugin's `plugin-barman-cloud` sidecar appended to the init containers as a native
    sidecar (plugin-barman-cloud v0.14.0 internal/cnpgi/operator/lifecycle.go:417, :433 RestartPolicy
    Always, :434 Resources from the ObjectStore; lifecycle_resources.go:47-78, the archiving store
    first, else the recovery one)."""
    init = [("bootstrap-controller", "cluster", False)]
    if plugin:
        init.append(("plugin-barman-cloud", "sidecar", True))
    return [("postgres", "cluster", False)], init


def cnpg_pooler_pod() -> tuple[list[Container], list[Container]]:
    """(containers, init containers) of a PgBouncer pod: `pgbouncer` as the template gives it, and the
    `bootstrap-controller` init container with `pooler.GetResourcesRequirements()`
    (pkg/specs/pgbouncer/deployments.go:95-99), which is the template's pod-level `spec.resources`
    (api/v1/pooler_funcs.go:106-116): unset, so the LimitRange's defaults apply to it."""
    return [("pgbouncer", "pooler", False)], [("bootstrap-controller", "pod-level", False)]


def cnpg_pooler_surge(instances: int) -> int:
    """Extra PgBouncer pods during a Pooler rollout: the operator leaves the Deployment's strategy empty
    unless the Pooler sets one (pkg/specs/pgbouncer/deployments.go:172, :193-198), so Kubernetes'
    RollingUpdate default applies, maxSurge 25% rounded up (k8s.io/api apps/v1 types.go
    DeploymentStrategy; pkg/controller/deployment/util ResolveFenceposts)."""
    return math.ceil(instances * 25 / 100) if instances else 0


# --- Data planes outside the stack: the labels their upstream installs give the pods that connect ------
# A selector here matches both the project's release manifest and its Helm chart:
# - ingress-nginx (helm-chart-4.15.1): charts/ingress-nginx/templates/_helpers.tpl:147-150 selectorLabels,
#   controller-deployment.yaml:17-20 adds component controller; the static deploy.yaml:392-421 the same.
# - Prometheus Operator v0.91.0 (what @kubernetes-models/prometheus-operator 6.0.0 is built from): every
#   Prometheus pod carries app.kubernetes.io/name: prometheus (pkg/prometheus/server/operator.go:1676-1684).
# - KEDA v2.19.0 (@kubernetes-models/keda 2.0.0): the operator is what queries a trigger's data source
#   (pkg/scaling/cache/scalers_cache.go:148-154; the metrics server forwards to it over gRPC,
#   cmd/adapter/main.go:201-205). Its release manifest labels the pods only `app: keda-operator` and
#   `name: keda-operator` (config/manager/manager.yaml:18-22); the chart adds app.kubernetes.io/name
#   (kedacore/charts v2.19.0 keda/templates/manager/deployment.yaml:26-34). So `app`, never
#   app.kubernetes.io/name, which a manifest install does not set.
# - CloudNativePG v1.30.0: releases/cnpg-1.30.0.yaml labels the operator's pods app.kubernetes.io/name:
#   cloudnative-pg only (the chart adds app.kubernetes.io/instance).
# - CoreDNS as kube-dns: cluster/addons/dns/coredns/coredns.yaml.base:109-111 (pods k8s-app: kube-dns),
#   :149-158 (ports dns 53/UDP, dns-tcp 53/TCP); kubeadm's manifests the same.
# - A Gateway's data plane: GEP-1762 (gateway-api v1.6.1 geps/gep-1762/index.md:63, :204-213) labels what
#   an implementation generates gateway.networking.k8s.io/gateway-name: <gateway>.
PEERS: dict[str, dict[str, str]] = {
    "ingress": {APP_NAME_LABEL: "ingress-nginx", "app.kubernetes.io/component": "controller"},
    "monitoring": {APP_NAME_LABEL: "prometheus"},
    "keda": {"app": "keda-operator"},
    "cnpg": {APP_NAME_LABEL: CNPG_MANAGER_NAME},
    "dns": {"k8s-app": "kube-dns"},
}
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
DNS_PORTS = (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"))
