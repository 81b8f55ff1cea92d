"""AgentPlatform: the whole agent stack on one Kubernetes cluster."""

import pulumi
import pulumi_kubernetes as k8s

from agent_platform.args import AgentPlatformArgs
from agent_platform.component_args import Validated, stack_settings
from agent_platform.k8s import cloudnativepg, monitoring, pod
from agent_platform.k8s.agent_service import AgentService
from agent_platform.k8s.ingress import AgentIngress
from agent_platform.k8s.namespace import AgentNamespace
from agent_platform.k8s.postgres import Postgres
from agent_platform.k8s.redis import Redis
from agent_platform.labels import standard_labels
from agent_platform.settings.stack import StackConfig
from agent_platform.settings.values import with_registry


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
        secrets = args.get("secret_values") or {}
        cluster = config.kubernetes
        assert cluster is not None and config.namespace is not None  # StackConfig requires both on Kubernetes
        # Explicit provider: the stack reaches only the context its config names,
        # never whatever kubeconfig context happens to be current.
        # Secrets and ConfigMaps keep fixed names (pods and the Ingress refer to them), so
        # a content change must be an update, not delete-then-create: pulumi-kubernetes
        # adds .data/.stringData to the replace-only properties unless these are on
        # (provider/pkg/provider/diff.go forceNewProperties: IsSecret && !enableSecretMutable,
        # IsConfigMap && !enableConfigMapMutable). Pods roll through the checksum annotations.
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
        child = pulumi.ResourceOptions(parent=self, providers={"kubernetes": self.provider})
        env = config.environment

        common = {"labels": dict(config.labels), "annotations": dict(config.annotations)}
        self.namespace = AgentNamespace(
            "namespace",
            Validated(
                config.namespace,
                environment=env,
                network=config.network,
                derived_quota=config.derived_quota(),
                # The Namespace holds the PVCs of every store not external (a StatefulSet's or a
                # CloudNativePG Cluster's): it is protected when they are.
                protect=any(s.mode != "external" and s.protect for s in (config.postgres, config.redis)),
                **common,
            ),
            opts=child,
        )
        ns = self.namespace.name
        in_ns = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.namespace]))
        wiring = {
            "namespace": ns,
            "environment": env,
            "secret_values": secrets,
            **common,
            "image_pull_secrets": list(config.image_pull_secrets),
            **({"existing_secret": config.secrets.existing_secret} if config.secrets.mode != "pulumi" else {}),
        }

        def with_image(settings):
            # The registry applies to every image the stack runs.
            return settings.model_copy(update={"image": with_registry(settings.image, config.registry)})

        self.external_secret = None
        if config.secrets.mode == "externalSecrets":
            self.external_secret = self._external_secret(config, ns, common, in_ns)
            in_ns = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[self.external_secret]))

        def scaler(store: str) -> dict:
            keda = {
                s.autoscaling.keda.operator_namespace
                for s in config.services
                if s.autoscaling.enabled and s.autoscaling.engine == "keda" and s.autoscaling.keda.trigger == store
            }
            return {"scaler_namespace": sorted(keda)[0]} if keda else {}

        stores = {"cluster_domain": cluster.cluster_domain}
        metrics = {"metrics_namespace": config.monitoring.namespace} if config.monitoring.enabled else {}
        self.postgres = Postgres(
            "postgres",
            Validated(with_image(config.postgres), **wiring, **stores, **scaler("postgres"), **metrics),
            opts=in_ns,
        )
        self.redis = Redis(
            "redis",
            Validated(with_image(config.redis_settings()), **wiring, **stores, **scaler("redis")),
            opts=in_ns,
        )
        pods_of = {s.name: s.pod_names() for s in config.services}
        # Exposed backends admit the data plane in front of them: the Ingress controller's namespace, or
        # with gatewayApi the Gateway's data plane's (config.gateway_data_plane_namespace).
        network = config.network
        if config.exposure == "gatewayApi" and config.gateway is not None:
            network = network.model_copy(update={"ingress_controller_namespace": config.gateway_data_plane_namespace()})

        def released(s):
            # The registry applies to every image a release runs, canary and colours included.
            r = s.rollout
            if r.canary:
                r = r.model_copy(
                    update={
                        "canary": r.canary.model_copy(update={"image": with_registry(r.canary.image, config.registry)})
                    }
                )
            if r.blue_green:
                colours = {
                    key: with_registry(getattr(r.blue_green, key) or s.image, config.registry)
                    for key in ("blue_image", "green_image")
                }
                r = r.model_copy(update={"blue_green": r.blue_green.model_copy(update=colours)})
            return with_image(s).model_copy(update={"rollout": r})

        self.services = [
            AgentService(
                s.name,
                Validated(
                    # Peers by the names their pods carry: a canary or both colours of a blue-green service.
                    released(s).model_copy(
                        update={"allow_from": [name for caller in s.allow_from for name in pods_of[caller]]}
                    ),
                    **wiring,
                    network=network,
                    availability=config.availability,
                    backends=[self.postgres.backend, self.redis.backend],
                    exposed=config.ingress.enabled and s.ingress.enabled,
                    # Its app port is reached by a caller or through the edge, else by no one.
                    serve=bool(s.allow_from) or (config.ingress.enabled and s.ingress.enabled),
                    monitoring=config.monitoring,
                    callees=[
                        {"name": name, "port": t.port}
                        for t in config.services
                        if s.name in t.allow_from
                        for name in pods_of[t.name]
                    ],
                ),
                opts=pulumi.ResourceOptions.merge(
                    in_ns, pulumi.ResourceOptions(depends_on=[self.postgres, self.redis])
                ),
            )
            for s in config.services
        ]
        m = config.monitoring
        if m.enabled and (m.service_monitor or m.prometheus_rule):
            meta = pod.Metadata(
                ns,
                pod.with_common(standard_labels("agent-platform", "monitoring", env), common["labels"]),
                common["annotations"],
            )
            after = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(parent=self))
            if m.service_monitor:
                self.service_monitor = monitoring.service_monitor(
                    "agent-platform", config.namespace.name, meta, m, after
                )
            if m.prometheus_rule:
                self.alert_rules = monitoring.alert_rules("agent-platform", config.namespace.name, meta, m, after)
            pg = config.postgres
            if pg.mode == "cloudnativepg":
                cluster = cloudnativepg.cluster_name(pg)
                db_meta = pod.Metadata(
                    ns,
                    pod.with_common(standard_labels("postgres", "monitoring", env), common["labels"]),
                    common["annotations"],
                )
                db_after = pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=[self.postgres]))
                if m.service_monitor:
                    self.postgres_pod_monitor = cloudnativepg.pod_monitor("postgres", cluster, db_meta, db_after)
                if m.prometheus_rule:
                    self.postgres_alert_rules = cloudnativepg.alert_rules(
                        "postgres-durability",
                        config.namespace.name,
                        cluster,
                        pg.backup.max_age_hours,
                        db_meta,
                        db_after,
                    )
        self.ingress = None
        if config.ingress.enabled:
            routes = [
                {
                    "service": s.name,
                    "paths": list(s.ingress.paths),
                    **(
                        {"canary_service": canary.name, "canary_weight": s.rollout.canary.weight}
                        if (canary := s.canary_unit()) and s.rollout.canary
                        else {}
                    ),
                }
                for s in config.services
                if s.ingress.enabled
            ]
            gateway = {"gateway": config.gateway} if config.exposure == "gatewayApi" and config.gateway else {}
            self.ingress = AgentIngress(
                "ingress",
                Validated(config.ingress, namespace=ns, environment=env, routes=routes, **common, **gateway),
                opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=self.services)),
            )
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
