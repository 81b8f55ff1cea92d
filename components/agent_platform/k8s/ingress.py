"""AgentIngress: the HTTPS entry, tuned for long-lived streaming responses."""

import pulumi
import pulumi_kubernetes as k8s

from agent_platform.args import AgentIngressArgs
from agent_platform.component_args import setting, settings_of
from agent_platform.k8s import pod
from agent_platform.labels import standard_labels
from agent_platform.settings.cluster import GatewayRef, IngressConfig
from agent_platform.settings.errors import ConfigError

net = k8s.networking.v1

NGINX = "nginx.ingress.kubernetes.io"


def ingress_annotations(config: IngressConfig) -> dict[str, str]:
    timeout = str(config.stream_timeout_seconds)
    annotations = {
        # Server-sent events and chunked token streams: no buffering, long timeouts.
        f"{NGINX}/proxy-buffering": "off",
        f"{NGINX}/proxy-request-buffering": "off",
        f"{NGINX}/proxy-read-timeout": timeout,
        f"{NGINX}/proxy-send-timeout": timeout,
        f"{NGINX}/proxy-body-size": config.max_body_size,
    }
    if config.tls.mode != "none":
        annotations[f"{NGINX}/ssl-redirect"] = "true"
        annotations[f"{NGINX}/force-ssl-redirect"] = "true"
    if config.tls.mode == "certManager":
        annotations["cert-manager.io/cluster-issuer"] = config.tls.cluster_issuer
    return annotations


def canary_weight(route) -> int:
    """A route's canary percent (the package boundary takes it from a caller's dict, so it is checked)."""
    weight = int(route.get("canary_weight", 0))
    if not 0 <= weight <= 100:
        raise ConfigError([f"routes: canary_weight must be 0-100, got {weight}"], "AgentIngress")
    return weight


class AgentIngress(pulumi.ComponentResource):
    """The HTTPS entry to the agent services, tuned for long-lived streaming responses (no proxy
    buffering, long read and send timeouts, TLS with a forced redirect)."""

    url: pulumi.Output[str]
    """The public base URL."""

    def __init__(self, resource_name: str, args: AgentIngressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("agent-platform:k8s:AgentIngress", resource_name, None, opts)
        config = settings_of(IngressConfig, args, AgentIngressArgs, f"AgentIngress {resource_name}")
        namespace, environment = args["namespace"], args["environment"]
        routes = [(r["service"], r["paths"]) for r in args["routes"]]
        canaries = [r for r in args["routes"] if r.get("canary_service")]
        if args.get("gateway"):
            gateway = setting(GatewayRef, args, "gateway", f"AgentIngress {resource_name}")
            self.route = self._http_route(config, gateway, namespace, environment, args)
            self.url = pulumi.Output.from_input(f"https://{config.host}")
            self.register_outputs({"url": self.url})
            return
        name = "agent-platform"
        tls = None
        if config.tls.mode != "none":
            tls = [net.IngressTLSArgs(hosts=[config.host], secret_name=config.tls.secret_name or f"{name}-tls")]
        self.tls = tls
        paths = [
            net.HTTPIngressPathArgs(
                path=path,
                path_type="Prefix",
                backend=net.IngressBackendArgs(
                    service=net.IngressServiceBackendArgs(name=service, port=net.ServiceBackendPortArgs(name="http"))
                ),
            )
            for service, prefixes in routes
            for path in prefixes
        ]
        # Many clusters' controllers never publish status.loadBalancer for an Ingress (no
        # cloud load balancer, or publishService unset); the provider would then wait its
        # default 10 minutes and fail (provider/pkg/await/ingress.go). The backends' own
        # readiness is awaited on their Deployments/StatefulSets; skip this await.
        annotations = ingress_annotations(config)
        if config.skip_await:
            annotations[pod.SKIP_AWAIT] = "true"
        self.ingress = net.Ingress(
            name,
            metadata=pod.Metadata(
                namespace,
                pod.with_common(standard_labels(name, "ingress", environment), args.get("labels")),
                dict(args.get("annotations") or {}),
            )(name, annotations),
            spec=net.IngressSpecArgs(
                ingress_class_name=config.class_name,
                tls=tls,
                rules=[net.IngressRuleArgs(host=config.host, http=net.HTTPIngressRuleValueArgs(paths=paths))],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.canaries = [self._canary(config, namespace, environment, args, r) for r in canaries]
        scheme = "http" if config.tls.mode == "none" else "https"
        self.url = pulumi.Output.from_input(f"{scheme}://{config.host}")
        self.register_outputs({"url": self.url})

    def _http_route(
        self, config: IngressConfig, gateway: GatewayRef, namespace, environment: str, args: AgentIngressArgs
    ) -> k8s.apiextensions.CustomResource:
        """Gateway API: one HTTPRoute on the Gateway's HTTPS listener, the streaming timeouts on
        every rule, and a canary as a weighted second backend (no annotations needed)."""
        timeout = f"{config.stream_timeout_seconds}s"
        rules = []
        for r in args["routes"]:
            weight = canary_weight(r) if r.get("canary_service") else 0
            backends = [{"name": r["service"], "port": 80, "weight": 100 - weight}]
            if r.get("canary_service"):
                backends.append({"name": r["canary_service"], "port": 80, "weight": weight})
            rules.append(
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": path}} for path in r["paths"]],
                    "backendRefs": backends,
                    "timeouts": {"request": timeout, "backendRequest": timeout},
                }
            )
        parent = {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": gateway.name,
            "sectionName": gateway.section_name,
        }
        if gateway.namespace:
            parent["namespace"] = gateway.namespace
        name = "agent-platform"
        return k8s.apiextensions.CustomResource(
            name,
            api_version="gateway.networking.k8s.io/v1",
            kind="HTTPRoute",
            metadata=pod.Metadata(
                namespace,
                pod.with_common(standard_labels(name, "ingress", environment), args.get("labels")),
                dict(args.get("annotations") or {}),
            )(name),
            spec={"parentRefs": [parent], "hostnames": [config.host], "rules": rules},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _canary(self, config: IngressConfig, namespace, environment: str, args: AgentIngressArgs, route) -> net.Ingress:
        """ingress-nginx canary: a second Ingress for the same host and paths, marked canary with a
        weight, sends that percent of requests to the canary Service. It names the main Ingress's
        TLS Secret for the host but no issuer, so cert-manager issues one certificate, not two."""
        weight = canary_weight(route)
        name = route["canary_service"]
        annotations = {k: v for k, v in ingress_annotations(config).items() if not k.startswith("cert-manager.io/")}
        annotations.update({f"{NGINX}/canary": "true", f"{NGINX}/canary-weight": str(weight)})
        if config.skip_await:
            annotations[pod.SKIP_AWAIT] = "true"
        paths = [
            net.HTTPIngressPathArgs(
                path=path,
                path_type="Prefix",
                backend=net.IngressBackendArgs(
                    service=net.IngressServiceBackendArgs(
                        name=route["canary_service"], port=net.ServiceBackendPortArgs(name="http")
                    )
                ),
            )
            for path in route["paths"]
        ]
        return net.Ingress(
            name,
            metadata=pod.Metadata(
                namespace,
                pod.with_common(standard_labels(name, "ingress", environment), args.get("labels")),
                dict(args.get("annotations") or {}),
            )(name, annotations),
            spec=net.IngressSpecArgs(
                ingress_class_name=config.class_name,
                tls=self.tls,
                rules=[net.IngressRuleArgs(host=config.host, http=net.HTTPIngressRuleValueArgs(paths=paths))],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
