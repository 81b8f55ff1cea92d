"""AgentPlatform: the whole agent stack on one Kubernetes cluster, from one StackConfig."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.config import StackConfig
from components.k8s.agent_service import AgentService, AgentServiceArgs, Backend
from components.k8s.ingress import AgentIngress
from components.k8s.namespace import AgentNamespace
from components.k8s.postgres import Postgres
from components.k8s.redis import Redis


class AgentPlatform(pulumi.ComponentResource):
    def __init__(self, resource_name: str, config: StackConfig, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("agent-platform:k8s:AgentPlatform", resource_name, None, opts)
        cluster = config.kubernetes
        # Explicit provider: the stack reaches only the context its stack file names,
        # never whatever kubeconfig context happens to be current.
        # Secrets and ConfigMaps keep fixed names (pods and the Ingress refer to them), so
        # a content change must be an update, not delete-then-create: pulumi-kubernetes
        # adds .data/.stringData to the replace-only properties unless these are on
        # (provider/pkg/provider/diff.go forceNewProperties: IsSecret && !enableSecretMutable,
        # IsConfigMap && !enableConfigMapMutable). Pods roll through the checksum annotations.
        self.provider = k8s.Provider(
            "cluster", context=cluster.context, kubeconfig=cluster.kubeconfig,
            enable_server_side_apply=True, enable_secret_mutable=True, enable_config_map_mutable=True,
            opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, providers={"kubernetes": self.provider})
        env = config.environment

        self.namespace = AgentNamespace("namespace", config.namespace, config.network, env, config.quota_hard(), opts=child)
        ns = self.namespace.name
        in_ns = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.namespace]))

        self.postgres = Postgres("postgres", config.postgres, ns, env, opts=in_ns)
        self.redis = Redis("redis", config.redis, ns, env, opts=in_ns)
        backends = [
            Backend(d.store, d.url_key, d.secret_name, d.port, d.config.mode == "inCluster", d.secret_checksum)
            for d in (self.postgres, self.redis)
        ]
        self.services = [
            AgentService(s.name, AgentServiceArgs(
                config=s, namespace=ns, environment=env, network=config.network,
                availability=config.availability, backends=backends,
                exposed=config.ingress.enabled and s.ingress.enabled,
                callers=list(s.allow_from),
                callees=[(t.name, t.port) for t in config.services if s.name in t.allow_from],
            ), opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(
                depends_on=[self.postgres, self.redis])))
            for s in config.services
        ]
        self.ingress = None
        if config.ingress.enabled:
            routes = [(s.name, s.ingress.paths) for s in config.services if s.ingress.enabled]
            self.ingress = AgentIngress("ingress", config.ingress, ns, env, routes, opts=pulumi.ResourceOptions.merge(
                in_ns, pulumi.ResourceOptions(depends_on=self.services)))
        self.register_outputs({"namespace": ns})
