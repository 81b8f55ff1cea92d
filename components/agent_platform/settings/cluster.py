"""The edge and the cluster: TLS, Ingress, network, namespace quota and limits, Kubernetes, secrets, Gateway,
monitoring."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import (
    Field,
)

from agent_platform.settings.base import Model
from agent_platform.settings.errors import Findings, check, rule, shown
from agent_platform.settings.values import (
    Cidr,
    DnsLabel,
    DnsName,
    Float,
    HostName,
    Int,
    Ipv4Address,
    LabelValue,
    MetadataKey,
    ObjectName,
    PlainText,
    Port,
    Quantity,
    quantity_value,
    whole_number,
)


class Tls(Model):
    mode: Literal["certManager", "secret", "none"] = Field(
        "certManager", description="`certManager` issues the certificate; `secret` uses an existing TLS Secret."
    )
    cluster_issuer: ObjectName | None = Field(None, description="certManager: ClusterIssuer name.")
    secret_name: DnsLabel | None = Field(
        None, description="TLS Secret name (secret mode: existing; certManager: where the certificate lands)."
    )

    @check
    def _complete(self) -> Tls:
        if self.mode == "certManager" and not self.cluster_issuer:
            raise rule("clusterIssuer", "is required when mode is certManager")
        if self.mode == "secret" and not self.secret_name:
            raise rule("secretName", "is required when mode is secret")
        return self


class IngressConfig(Model):
    enabled: bool = Field(True, description="Declare the Ingress.")
    class_name: ObjectName = Field("nginx", description="IngressClass name (a DNS subdomain).")
    skip_await: bool = Field(
        True,
        description="Annotate the Ingress `pulumi.com/skipAwait`: many controllers never publish a load-balancer "
        "status, and the provider would wait 10 minutes for it, then fail. Set false where the controller "
        "does publish it.",
    )
    host: HostName | None = Field(None, description="Public host name.")
    tls: Tls = Field(Tls(mode="certManager", cluster_issuer="letsencrypt"), description="TLS termination.")
    stream_timeout_seconds: Int = Field(
        3600, ge=3600, le=86400, description="Proxy read/send timeout; streamed LLM responses last minutes."
    )
    max_body_size: str = Field(
        "50m",
        pattern=r"^[1-9]\d*[kKmMgG]?$",
        description="Largest request body, nginx size syntax (`proxy-body-size` / `client_max_body_size`, e.g. `50m`).",
    )

    @check
    def _host(self) -> IngressConfig:
        if self.enabled and not self.host:
            raise rule("host", "is required when the ingress is enabled")
        return self


class EgressRule(Model):
    cidr: Cidr = Field(description="Destination CIDR.")
    except_cidrs: list[Cidr] = Field([], description="CIDRs carved out of `cidr` (e.g. the cluster's private ranges).")
    ports: list[Port] = Field([443], min_length=1, description="TCP ports.")

    @check
    def _inside(self) -> EgressRule:
        outer = ipaddress.ip_network(self.cidr)
        for i, inner in enumerate(self.except_cidrs):
            if not ipaddress.ip_network(inner).subnet_of(outer):  # type: ignore[arg-type]
                raise rule(f"exceptCidrs[{i}]", f"{inner} is not inside {self.cidr}")
        return self


class NetworkConfig(Model):
    ingress_controller_namespace: DnsLabel = Field(
        "ingress-nginx",
        description="Namespace of the ingress controller allowed to reach the exposed services (exposure `ingress`; "
        "a Gateway's data plane: gateway.dataPlaneNamespace).",
    )
    dns_namespace: DnsLabel = Field("kube-system", description="Namespace of cluster DNS.")
    node_local_dns: Ipv4Address | None = Field(
        None,
        description="Address of NodeLocal DNSCache (usually `169.254.20.10`): pods' DNS queries go to a host-network "
        "agent there, which a pod selector cannot match, so DNS egress to it is allowed by address.",
    )
    egress: list[EgressRule] = Field(
        [
            EgressRule(
                cidr="0.0.0.0/0",
                except_cidrs=["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"],
                ports=[443],
            )
        ],
        description="Egress the agent pods may open (LLM and tool APIs); private ranges are excluded by default.",
    )


class Quota(Model):
    """Unset amounts are derived from the worst case (StackConfig.worst_case); set ones must hold it."""

    cpu: Quantity | None = Field(
        None,
        description="requests.cpu for the namespace; unset: the worst case (every service at its maximum, plus rollout "
        "surge and data stores).",
    )
    memory: Quantity | None = Field(None, description="requests.memory; unset: the worst case.")
    limits_cpu: Quantity | None = Field(None, description="limits.cpu; unset: the worst case.")
    limits_memory: Quantity | None = Field(None, description="limits.memory; unset: the worst case.")
    storage: Quantity | None = Field(
        None, description="requests.storage; unset: the worst case (every claim of every pod at its maximum)."
    )
    pods: whole_number(ge=1) | None = Field(None, description="Pods in the namespace; unset: the worst case.")


class LimitRangeConfig(Model):
    default_cpu: Quantity = Field("500m", description="Limit for containers that set none.")
    default_memory: Quantity = Field("512Mi", description="Limit for containers that set none.")
    default_request_cpu: Quantity = Field("100m", description="Request for containers that set none.")
    default_request_memory: Quantity = Field("128Mi", description="Request for containers that set none.")

    @check
    def _request_within_limit(self) -> LimitRangeConfig:
        # core validation ValidateLimitRange: a default request above its default limit is refused.
        found = Findings()
        for resource in ("cpu", "memory"):
            request = getattr(self, f"default_request_{resource}")
            limit = getattr(self, f"default_{resource}")
            if quantity_value(request) > quantity_value(limit):
                found(
                    f"defaultRequest{resource.capitalize()}",
                    f"must be <= default{resource.capitalize()} ({request} > {limit})",
                )
        found.raise_any("LimitRangeConfig")
        return self


class NamespaceConfig(Model):
    name: DnsLabel = Field(description="Namespace holding the whole stack (never `default`).")
    pod_security: Literal["restricted", "baseline"] = Field(
        "restricted", description="Pod Security Admission level enforced."
    )
    quota: Quota = Field(Quota(), description="ResourceQuota.")
    limit_range: LimitRangeConfig = Field(LimitRangeConfig(), description="LimitRange defaults.")

    @check
    def _not_default(self) -> NamespaceConfig:
        if self.name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            raise rule("name", f"must not be the system namespace {shown(self.name)}")
        return self


class KubernetesConfig(Model):
    context: str = Field(
        min_length=1, description="kubeconfig context of the target cluster; the explicit provider uses only this."
    )
    kubeconfig: str | None = Field(
        None, description="Path to a kubeconfig file; unset uses $KUBECONFIG or ~/.kube/config."
    )
    cluster_stack: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        description="`org/project/stack` of the stack that created the cluster: its `kubeconfig` output (a secret) is "
        "the provider's kubeconfig, read through a StackReference; instead of `kubeconfig`.",
    )
    cluster_domain: DnsName = Field(
        "cluster.local",
        description="The cluster's DNS domain (kubelet `clusterDomain`), in the data stores' host names.",
    )

    @check
    def _one_source(self) -> KubernetesConfig:
        if self.cluster_stack and self.kubeconfig:
            raise rule("clusterStack", "set either clusterStack or kubeconfig, not both")
        return self


class Availability(Model):
    topology_spread: bool = Field(True, description="Spread agent pods across zones (topologySpreadConstraints).")
    pod_anti_affinity: bool = Field(True, description="Prefer one agent pod per node.")


class SecretStoreRef(Model):
    name: ObjectName = Field(description="The SecretStore or ClusterSecretStore (External Secrets Operator).")
    kind: Literal["SecretStore", "ClusterSecretStore"] = Field("ClusterSecretStore", description="Its kind.")


class SecretsSettings(Model):
    """Where the secrets the services name come from."""

    mode: Literal["pulumi", "existing", "externalSecrets"] = Field(
        "pulumi",
        description="`pulumi`: each key is a secret stack config value (`pulumi config set --secret`), put into "
        "Secrets this stack manages; `existing`: each key is a key of `existingSecret`, a Secret the team "
        "manages elsewhere, which the pods read directly; `externalSecrets`: as existing, and that Secret "
        "is declared here as an ExternalSecret (External Secrets Operator) fetching each key from `secretStoreRef`.",
    )
    existing_secret: ObjectName = Field(
        "agent-platform-secrets",
        description="existing, externalSecrets: the Secret in the namespace holding every key that `secretEnv` and "
        "`externalUrlKey` name.",
    )
    secret_store_ref: SecretStoreRef | None = Field(
        None, description="externalSecrets: the store the keys are fetched from."
    )
    remote_key_prefix: str = Field(
        "", description="externalSecrets: prefix of each key's name in the store (`agents/prod/`)."
    )
    refresh_interval: str = Field(
        "1h",
        pattern=r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$",
        description="externalSecrets: how often the operator re-reads the store.",
    )

    @check
    def _store(self) -> SecretsSettings:
        if self.mode == "externalSecrets" and self.secret_store_ref is None:
            raise rule("secretStoreRef", "is required when mode is externalSecrets")
        if self.mode != "externalSecrets" and self.secret_store_ref is not None:
            raise rule("secretStoreRef", "only applies when mode is externalSecrets")
        return self


class GatewayRef(Model):
    name: ObjectName = Field(description="The Gateway the HTTPRoute attaches to (managed by the platform team).")
    namespace: DnsLabel | None = Field(None, description="Its namespace; unset: the stack's namespace.")
    section_name: DnsLabel = Field(
        description="Its HTTPS listener: the route attaches there only, so traffic is always TLS (the certificate is "
        "the Gateway's)."
    )
    data_plane_namespace: DnsLabel | None = Field(
        None,
        description="Namespace of the Gateway's data plane (its proxy pods), the only one the backends' "
        "NetworkPolicy admits; unset: the Gateway's namespace, where Istio, NGINX Gateway Fabric, kgateway and "
        "Contour's provisioner run them. Envoy Gateway runs them in its own namespace (`envoy-gateway-system`) "
        "unless its GatewayNamespace mode is on: set it then.",
    )


class AlertThresholds(Model):
    """The five alerts of the LangGraph deployment notes, adapted to this stack's metrics."""

    error_rate_percent: Float = Field(5, gt=0, le=100, description="5xx responses, percent of requests over 5 minutes.")
    p95_latency_seconds: Float = Field(
        30, gt=0, description="95th percentile request duration over 5 minutes (streams are long)."
    )
    memory_percent_of_limit: Int = Field(90, ge=1, le=100, description="Working set against the memory limit.")
    db_pool_exhausted_minutes: Int = Field(5, ge=1, le=60, description="Minutes with every database connection in use.")
    crash_loop_restarts: Int = Field(3, ge=1, description="Container restarts within 15 minutes.")


class Dashboards(Model):
    """Grafana dashboards (the agent services, the data stores) as ConfigMaps the Grafana sidecar
    loads (grafana/helm-charts charts/grafana values.yaml `sidecar.dashboards`: label
    `grafana_dashboard`, `folderAnnotation`, `searchNamespace`), or on Docker as provisioning files."""

    enabled: bool = Field(
        False,
        description="Render the two dashboards (needs monitoring.enabled): Kubernetes, ConfigMaps in the stack's "
        "namespace (set the sidecar's `searchNamespace` to it or `ALL`); Docker, Grafana provisioning files beside "
        "the compose file.",
    )
    label: MetadataKey = Field(
        "grafana_dashboard", description="The label the sidecar selects ConfigMaps by (`sidecar.dashboards.label`)."
    )
    label_value: LabelValue = Field("1", description="Its value (`sidecar.dashboards.labelValue`).")
    folder: PlainText = Field("Agent platform", description="The Grafana folder the dashboards land in.")
    folder_annotation: MetadataKey = Field(
        "grafana_folder",
        description="The annotation naming the folder (`sidecar.dashboards.folderAnnotation`, which the sidecar "
        "reads only when set in its values).",
    )


class Monitoring(Model):
    """Prometheus scraping of the app's metrics port and the alert rules (Prometheus Operator CRDs, opt-in)."""

    enabled: bool = Field(
        False,
        description="Expose the metrics port to the monitoring namespace and have it scraped; on a Docker host, run "
        "Prometheus and the exporters (`docker.monitoring`).",
    )
    namespace: DnsLabel = Field(
        "monitoring", description="Namespace of Prometheus: the only one the NetworkPolicy admits to the metrics port."
    )
    port: Port = Field(
        9090,
        description="The app's metrics port (the app contract: `METRICS_PORT`, GET /metrics, Prometheus text format).",
    )
    path: str = Field("/metrics", pattern=r"^/", description="Path of the metrics.")
    service_monitor: bool = Field(
        True,
        description="A ServiceMonitor (monitoring.coreos.com/v1); false: `prometheus.io/*` scrape annotations on the "
        "pods, for a Prometheus without the operator.",
    )
    prometheus_rule: bool = Field(True, description="A PrometheusRule with the alerts (needs the operator).")
    alerts: AlertThresholds = Field(AlertThresholds(), description="Alert thresholds.")
    dashboards: Dashboards = Field(Dashboards(), description="Grafana dashboards (off by default).")

    @check
    def _operator(self) -> Monitoring:
        found = Findings()
        if self.prometheus_rule and not self.service_monitor and self.enabled:
            found("prometheusRule", "needs the Prometheus Operator, as serviceMonitor does: set both, or neither")
        if self.dashboards.enabled and not self.enabled:
            found("dashboards.enabled", "needs monitoring.enabled: the dashboards read the metrics it has scraped")
        found.raise_any("Monitoring")
        return self


DOCKER_MIN_MEMORY = 6 * 2**20
