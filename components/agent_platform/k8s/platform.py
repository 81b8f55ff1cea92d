"""AgentPlatform: the whole agent stack on one Kubernetes cluster."""

import pulumi
import pulumi_kubernetes as k8s

from agent_platform.args import AgentPlatformArgs
from agent_platform.component_args import Validated, stack_settings
from agent_platform.k8s import cloudnativepg, monitoring, pod
from agent_platform.k8s import wiring as platform_wiring
from agent_platform.k8s.agent_service import AgentService
from agent_platform.k8s.ingress import AgentIngress
from agent_platform.k8s.namespace import AgentNamespace
from agent_platform.k8s.postgres import Postgres
from agent_platform.k8s.redis import Redis
from agent_platform.labels import standard_labels
from agent_platform.settings.stack import StackConfig


class AgentPlatform(pulumi.ComponentResource):
    """The whole agent stack on one Kubernetes cluster: an AgentNamespace, Postgres and Redis, one
    AgentService per service and an AgentIngress, wired together (connection Secrets, NetworkPolicy
    peers, a quota that fits the worst case) through an explicit provider for one kubeconfig context."""

    namespace_name: pulumi.Output[str]
    """Name of the namespace."""
    service_names: pulumi.Output[list[str]]
    """Names of the agent services' ClusterIP Services (a service nothing may call or scrape has none)."""
    ingress_url: pulumi.Output[str]
    """Public base URL (empty when the Ingress is disabled)."""
    postgres_host: pulumi.Output[str]
    """Postgres host name."""
    redis_host: pulumi.Output[str]
    """Redis host name."""

    def __init__(self, resource_name: str, args: AgentPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("agent-platform:k8s:AgentPlatform", resource_name, None, opts)
        config = stack_settings(StackConfig, args, "kubernetes", AgentPlatformArgs, f"AgentPlatform {resource_name}")
        self.config = config
        assert config.kubernetes is not None and config.namespace is not None  # required on Kubernetes
        child = pulumi.ResourceOptions(parent=self, providers={"kubernetes": self._cluster_provider(config)})
        self.common = {"labels": dict(config.labels), "annotations": dict(config.annotations)}
        self.namespace = AgentNamespace(
            "namespace",
            Validated(
                config.namespace,
                environment=config.environment,
                network=config.network,
                derived_quota=config.derived_quota(),
                # The Namespace holds the PVCs of every store not external (a StatefulSet's or a
                # CloudNativePG Cluster's): it is protected when they are.
                protect=any(s.mode != "external" and s.protect for s in (config.postgres, config.redis)),
                **self.common,
            ),
            opts=child,
        )
        ns = self.namespace.name
        in_ns = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.namespace]))
        wiring = {
            "namespace": ns,
            "environment": config.environment,
            "secret_values": args.get("secret_values") or {},
            **self.common,
            "image_pull_secrets": list(config.image_pull_secrets),
            **({"existing_secret": config.secrets.existing_secret} if config.secrets.mode != "pulumi" else {}),
        }
        self.external_secret = None
        if config.secrets.mode == "externalSecrets":
            self.external_secret = self._external_secret(config, ns, self.common, in_ns)
            in_ns = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[self.external_secret]))
        self._stores(config, wiring, in_ns)
        after_stores = pulumi.ResourceOptions.merge(
            in_ns, pulumi.ResourceOptions(depends_on=[self.postgres, self.redis])
        )
        pods = platform_wiring.pods_of(config)
        self.services = [
            AgentService(
                s.name,
                Validated(settings, **wiring, **extra, backends=[self.postgres.backend, self.redis.backend]),
                opts=after_stores,
            )
            for s in config.services
            for settings, extra in [platform_wiring.service_wiring(config, s, pods)]
        ]
        self._monitoring(config, ns, in_ns)
        self.ingress = None
        if config.ingress.enabled:
            gateway = {"gateway": config.gateway} if config.exposure == "gatewayApi" and config.gateway else {}
            self.ingress = AgentIngress(
                "ingress",
                Validated(
                    config.ingress,
                    namespace=ns,
                    environment=config.environment,
                    routes=platform_wiring.routes(config),
                    **self.common,
                    **gateway,
                ),
                opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=self.services)),
            )
        self._outputs(ns)

    def _cluster_provider(self, config: StackConfig) -> k8s.Provider:
        """An explicit provider: the stack reaches only the context its config names, never whatever
        kubeconfig context happens to be current. Secrets and ConfigMaps keep fixed names (pods and the
        Ingress refer to them), so a content change must be an update, not delete-then-create:
        pulumi-kubernetes adds .data/.stringData to the replace-only properties unless these are on
        (provider/pkg/provider/diff.go forceNewProperties: IsSecret && !enableSecretMutable,
        IsConfigMap && !enableConfigMapMutable). Pods roll through the checksum annotations."""
        cluster = config.kubernetes
        assert cluster is not None
        kubeconfig: pulumi.Input[str] | None = cluster.kubeconfig
        if cluster.cluster_stack:
            # The cluster's own stack exports its kubeconfig; a StackReference reads it (secret).
            self.cluster_stack = pulumi.StackReference(cluster.cluster_stack, opts=pulumi.ResourceOptions(parent=self))
            kubeconfig = pulumi.Output.secret(self.cluster_stack.require_output("kubeconfig"))
        self.provider = k8s.Provider(
            "cluster",
            context=cluster.context,
            kubeconfig=kubeconfig,
            enable_server_side_apply=True,
            enable_secret_mutable=True,
            enable_config_map_mutable=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return self.provider

    def _stores(self, config: StackConfig, wiring: dict, opts: pulumi.ResourceOptions) -> None:
        assert config.kubernetes is not None
        stores = {"cluster_domain": config.kubernetes.cluster_domain}
        metrics = {"metrics_namespace": config.monitoring.namespace} if config.monitoring.enabled else {}
        registry = config.registry
        self.postgres = Postgres(
            "postgres",
            Validated(
                platform_wiring.with_image(config.postgres, registry),
                **wiring,
                **stores,
                **platform_wiring.scaler(config, "postgres"),
                **metrics,
            ),
            opts=opts,
        )
        self.redis = Redis(
            "redis",
            Validated(
                platform_wiring.with_image(config.redis_settings(), registry),
                **wiring,
                **stores,
                **platform_wiring.scaler(config, "redis"),
            ),
            opts=opts,
        )

    def _monitoring(self, config: StackConfig, ns: pulumi.Input[str], in_ns: pulumi.ResourceOptions) -> None:
        """The app's ServiceMonitor and alerts, and the database's PodMonitor and alerts (CloudNativePG)."""
        m, env = config.monitoring, config.environment
        if not m.enabled:
            return
        assert config.namespace is not None
        meta = pod.Metadata(
            ns,
            pod.with_common(standard_labels("agent-platform", "monitoring", env), self.common["labels"]),
            self.common["annotations"],
        )
        after = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(parent=self))
        if m.dashboards.enabled:
            cluster = cloudnativepg.cluster_name(config.postgres) if config.postgres.mode == "cloudnativepg" else None
            self.dashboards = monitoring.dashboard_config_maps(
                "agent-platform", env, config.namespace.name, cluster, meta, m.dashboards, after
            )
        if not (m.service_monitor or m.prometheus_rule):
            return
        if m.service_monitor:
            self.service_monitor = monitoring.service_monitor("agent-platform", config.namespace.name, meta, m, after)
        if m.prometheus_rule:
            self.alert_rules = monitoring.alert_rules("agent-platform", config.namespace.name, meta, m, after)
        pg = config.postgres
        if pg.mode != "cloudnativepg":
            return
        cluster = cloudnativepg.cluster_name(pg)
        db_meta = pod.Metadata(
            ns,
            pod.with_common(standard_labels("postgres", "monitoring", env), self.common["labels"]),
            self.common["annotations"],
        )
        db_after = pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=[self.postgres]))
        if m.service_monitor:
            self.postgres_pod_monitor = cloudnativepg.pod_monitor("postgres", cluster, db_meta, db_after)
        if m.prometheus_rule:
            self.postgres_alert_rules = cloudnativepg.alert_rules(
                "postgres-durability", config.namespace.name, cluster, pg.backup.max_age_hours, db_meta, db_after
            )

    def _outputs(self, ns: pulumi.Input[str]) -> None:
        self.namespace_name = ns
        # A service nothing may call and nothing scrapes through a Service has none (AgentService.served).
        self.service_names = pulumi.Output.all(*[s.service_name for s in self.services]).apply(
            lambda names: [n for n in names if n]
        )
        self.ingress_url = self.ingress.url if self.ingress else pulumi.Output.from_input("")
        self.postgres_host = self.postgres.host
        self.redis_host = self.redis.host
        self.register_outputs(
            {
                "namespaceName": ns,
                "serviceNames": self.service_names,
                "ingressUrl": self.ingress_url,
                "postgresHost": self.postgres_host,
                "redisHost": self.redis_host,
            }
        )

    def _external_secret(
        self, config: StackConfig, namespace: pulumi.Input[str], common: dict, opts: pulumi.ResourceOptions
    ) -> k8s.apiextensions.CustomResource:
        """The Secret the pods read, declared as an ExternalSecret: the operator fetches each named
        key from the store and keeps it refreshed; no value passes through Pulumi."""
        s = config.secrets
        assert s.secret_store_ref is not None
        labels = pod.with_common(standard_labels(s.existing_secret, "secrets", config.environment), common["labels"])
        return k8s.apiextensions.CustomResource(
            s.existing_secret,
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata=pod.Metadata(namespace, labels, common["annotations"])(s.existing_secret),
            spec={
                "refreshInterval": s.refresh_interval,
                "secretStoreRef": {"name": s.secret_store_ref.name, "kind": s.secret_store_ref.kind},
                "target": {"name": s.existing_secret, "creationPolicy": "Owner"},
                "data": [
                    {"secretKey": key, "remoteRef": {"key": f"{s.remote_key_prefix}{key}"}}
                    for key in config.named_secret_keys()
                ],
            },
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self)),
        )
