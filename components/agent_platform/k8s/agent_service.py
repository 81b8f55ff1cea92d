"""AgentService: one agent API (a LangGraph-style FastAPI app) and everything it runs with.

ServiceAccount (no token), ConfigMap (plain env), Secret (secret env, still Pulumi
secrets), Deployment or StatefulSet, Service (plus a headless one for a
StatefulSet), HorizontalPodAutoscaler, PodDisruptionBudget and a least-privilege
NetworkPolicy. The pod honours the app contract: /healthz, /readyz, DATABASE_URL
and REDIS_URL from Secrets, and a drain window on SIGTERM.
"""

from dataclasses import replace

import pulumi
import pulumi_kubernetes as k8s

from agent_platform.args import AgentServiceArgs
from agent_platform.component_args import secret_value, setting, settings_of
from agent_platform.k8s import jobs, pod, service_network_policy
from agent_platform.k8s.backend import Backend
from agent_platform.labels import (
    CLIENT_OF,
    RELEASE_TRACK,
    ROLE,
    SCRAPED,
    image_version,
    selector_labels,
    standard_labels,
)
from agent_platform.settings.cluster import Availability, Monitoring, NetworkConfig
from agent_platform.settings.errors import ConfigError
from agent_platform.settings.service import AgentServiceConfig
from agent_platform.settings.tracing import Tracing, traced
from agent_platform.settings.workload import Probe, ReleaseUnit

apps = k8s.apps.v1
core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1
autoscaling = k8s.autoscaling.v2

HTTP = "http"
DATA_VOLUME = "data"
CHECKOV_SKIPS = pod.CHECKOV_SKIPS


class AgentService(pulumi.ComponentResource):
    """One agent API (a LangGraph-style app) with its ServiceAccount, ConfigMap, Secret, Deployment or
    StatefulSet, Service, HorizontalPodAutoscaler, PodDisruptionBudget and least-privilege NetworkPolicy."""

    service_name: pulumi.Output[str]
    """Name of the ClusterIP Service (port 80, named `http`; empty when nothing may call the service and nothing
    scrapes it through a Service)."""

    def __init__(self, resource_name: str, args: AgentServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("agent-platform:k8s:AgentService", resource_name, None, opts)
        where = f"AgentService {resource_name}"
        c = settings_of(AgentServiceConfig, args, AgentServiceArgs, where)
        # Tracing's variables join the service's env and secretEnv: its ConfigMap and Secret hold them.
        self.tracing = setting(Tracing, args, "tracing", where)
        reserved = set(self.tracing.reserved_names())
        clash = [
            f"{key}.{n}"
            for key, given in (("env", c.env), ("secretEnv", c.secret_env))
            for n in sorted(reserved & set(given))
        ]
        if clash:
            raise ConfigError([f"{at}: is set by tracing; remove it, or turn tracing off" for at in clash], where)
        c = traced(c, self.tracing, args["environment"])
        self.config: AgentServiceConfig = c
        self._take_wiring(args, where)
        child = pulumi.ResourceOptions(parent=self)
        self._identity(child)
        plain_env, secret_values = self._environment(args, where, child)
        self._jobs()
        self._releases(args, plain_env, secret_values)
        self._front(child)
        self.service_name = self.service.metadata.name if self.service is not None else pulumi.Output.from_input("")
        self.register_outputs({"serviceName": self.service_name})

    def _take_wiring(self, args: AgentServiceArgs, where: str) -> None:
        """What the platform hands the service: its namespace, network, peers, stores, labels."""
        c = self.config
        self.namespace_name = args["namespace"]
        self.network: NetworkConfig = setting(NetworkConfig, args, "network", where)
        self.availability: Availability = setting(Availability, args, "availability", where)
        self.exposed = bool(args.get("exposed", False))
        self.monitoring = setting(Monitoring, args, "monitoring", where)
        # Declared peers: services whose pods may call this one (its allowFrom), and the
        # services this one may call (those listing it in their allowFrom).
        self.callers = list(c.allow_from)
        # A Service port nobody may reach promises what the NetworkPolicy refuses: AgentPlatform sets serve
        # off for a background worker nothing calls.
        self.served = bool(args.get("serve", True))
        m = self.monitoring
        self.scraped_by_service = m.enabled and m.service_monitor
        self.callees = [(p["name"], int(p["port"])) for p in args.get("callees") or []]
        self.selector = selector_labels(c.name)
        self.platform_labels = standard_labels(c.name, "agent-api", args["environment"], image_version(c.image))
        self.labels = pod.with_common(self.platform_labels, args.get("labels"))
        self.meta = pod.Metadata(args["namespace"], self.labels, dict(args.get("annotations") or {}))
        self.pull_secrets = list(args.get("image_pull_secrets") or [])
        # Each URL in the variable this service reads it from (connectionEnv); the Secret's key stays.
        self.backends = [
            replace(b, env_name=c.url_env(b.store), secret_key=b.secret_key or b.env_name)
            for b in map(Backend.of, args.get("backends") or [])
            if getattr(c, f"uses_{b.store}", False)
        ]
        self.pod_labels = {
            **self.labels,
            ROLE: "agent",
            **{CLIENT_OF.format(store=b.store): "true" for b in self.backends},
        }

    def _identity(self, child: pulumi.ResourceOptions) -> None:
        c = self.config
        # An existing ServiceAccount (workload identity managed elsewhere) is used, not created.
        self.service_account = None
        self.service_account_name: pulumi.Input[str] = c.service_account.name or ""
        if not c.service_account.name:
            self.service_account = core.ServiceAccount(
                c.name,
                metadata=self.meta(c.name, c.service_account.annotations or None),
                automount_service_account_token=False,
                opts=child,
            )
            self.service_account_name = self.service_account.metadata.name

    def _environment(
        self, args: AgentServiceArgs, where: str, child: pulumi.ResourceOptions
    ) -> tuple[dict[str, str], dict[str, pulumi.Input[str]]]:
        """The plain env as a ConfigMap, the secret env as a Secret (unless an existing one holds it)."""
        c = self.config
        plain_env = {**c.platform_env(), **c.env}
        if self.monitoring.enabled:
            plain_env["METRICS_PORT"] = str(self.monitoring.port)
        self.config_map = core.ConfigMap(c.name, metadata=self.meta(c.name), data=plain_env, opts=child)

        secrets = args.get("secret_values") or {}
        # Keys kept in an existing Secret are read by the pods from it: nothing to hold here.
        self.existing_secret = args.get("existing_secret") or ""
        secret_values = (
            {}
            if self.existing_secret
            else {
                env: secret_value(secrets, key, where, f"secret_env.{env}") for env, key in sorted(c.secret_env.items())
            }
        )
        self.secret = None
        if secret_values:
            self.secret = core.Secret(
                c.name, metadata=self.meta(c.name), type="Opaque", string_data=secret_values, opts=child
            )

        return plain_env, secret_values

    def _jobs(self) -> None:
        c = self.config
        # The jobs run as their own ServiceAccount (jobs.job_service_account), never the service's identity.
        service_jobs = jobs.ServiceJobs(
            c,
            self.labels,
            self.meta,
            self.backends,
            self.pull_secrets,
            [r for r in (self.config_map, self.secret) if r is not None],
            self,
        )
        # The migration runs before any workload of this version rolls out.
        self.migration = jobs.migration_job(service_jobs) if c.migration.enabled else None
        self.cleanup = jobs.checkpoint_cleanup(service_jobs) if c.checkpoint_cleanup.enabled else None
        self.jobs_service_account = service_jobs.account

    def _releases(self, args: AgentServiceArgs, plain_env: dict, secret_values: dict) -> None:
        """Each release unit (the service, or its canary, or both colours) with its workload and Service."""
        c = self.config
        self.units = c.units()
        self.unit_labels = {
            u.name: pod.with_common(
                {
                    **standard_labels(u.name, "agent-api", args["environment"], image_version(u.image)),
                    **({RELEASE_TRACK: u.name.rsplit("-", 1)[1]} if u.role != "stable" else {}),
                },
                args.get("labels"),
            )
            for u in self.units
        }
        self.workloads: dict[str, pulumi.CustomResource] = {}
        self.services: dict[str, core.Service | None] = {}
        for unit in self.units:
            self._unit(unit, plain_env, secret_values)
        main = self.units[0]
        self.workload = self.workloads[main.name]

    def _front(self, child: pulumi.ResourceOptions) -> None:
        """The Service the service is known by (a blue-green switch), and a StatefulSet's governing one."""
        c, main = self.config, self.units[0]
        if c.rollout.strategy == "blueGreen":
            # The service's own name selects the active colour: the switch is one selector update.
            # It waits for the active colour's rollout (the provider awaits a Deployment's ready
            # pods), so a switch to a colour whose image changed too never points at unready pods.
            # It carries no metrics port: each colour's own Service does, so the active colour's
            # pods are scraped once, not also through the switch.
            active = next(u for u in self.units if u.role == "active")
            self.service = self._service(
                c.name,
                selector_labels(active.name),
                self.labels,
                depends_on=[self.workloads[active.name]],
                metrics=False,
            )
        else:
            self.service = self.services.get(main.name)
        if c.kind == "StatefulSet":
            # The StatefulSet's governing Service (its pods' DNS names). Without callers it lists no
            # port: a headless Service may have none, and nothing may reach the app port.
            self.headless_service = core.Service(
                f"{c.name}-headless",
                metadata=self.meta(f"{c.name}-headless"),
                spec=core.ServiceSpecArgs(
                    cluster_ip="None",
                    selector=self.selector,
                    publish_not_ready_addresses=True,
                    ports=[core.ServicePortArgs(name=HTTP, port=c.port, target_port=HTTP, protocol="TCP")]
                    if self.served
                    else None,
                ),
                opts=child,
            )

    def _unit_meta(self, unit: ReleaseUnit) -> pod.Metadata:
        return pod.Metadata(self.meta.namespace, self.unit_labels[unit.name], self.meta.annotations)

    def _service(
        self,
        name: str,
        selector: dict[str, str],
        labels: dict[str, str],
        depends_on: list[pulumi.Resource] | None = None,
        metrics: bool = True,
    ) -> core.Service | None:
        """A ClusterIP Service: the app port when something may call it, the metrics port when the
        ServiceMonitor scrapes through it; none when it would have neither."""
        scraped = metrics and self.scraped_by_service
        ports = [core.ServicePortArgs(name=HTTP, port=80, target_port=HTTP, protocol="TCP")] if self.served else []
        if scraped:
            # The ServiceMonitor scrapes through the Service's named metrics port.
            ports.append(
                core.ServicePortArgs(name="metrics", port=self.monitoring.port, target_port="metrics", protocol="TCP")
            )
        if not ports:
            return None
        return core.Service(
            name,
            metadata=pod.Metadata(
                self.meta.namespace, {**labels, **({SCRAPED: "true"} if scraped else {})}, self.meta.annotations
            )(name),
            spec=core.ServiceSpecArgs(type="ClusterIP", selector=selector, ports=ports),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _unit(self, unit: ReleaseUnit, plain_env: dict, secret_values: dict) -> None:
        """The workload of one unit and what scales, protects, exposes and isolates it."""
        c = self.config
        self.workloads[unit.name] = self._workload(unit, plain_env, secret_values)
        self.services[unit.name] = self._service(unit.name, selector_labels(unit.name), self.unit_labels[unit.name])
        if unit.autoscaled and c.autoscaling.engine == "keda":
            self._scaled_object(unit)
        elif unit.autoscaled:
            self._autoscaler(unit)
        if c.pdb.enabled and (unit.autoscaled or unit.replicas > 0):
            k8s.policy.v1.PodDisruptionBudget(
                unit.name,
                metadata=self._unit_meta(unit)(unit.name),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    selector=meta.LabelSelectorArgs(match_labels=selector_labels(unit.name)),
                    min_available=c.pdb.min_available if unit.role != "canary" else None,
                    max_unavailable=(c.pdb.max_unavailable or 1)
                    if c.pdb.min_available is None or unit.role == "canary"
                    else None,
                    # Evict crash-looping pods even when the budget is exhausted: they serve nothing.
                    unhealthy_pod_eviction_policy="AlwaysAllow",
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        if c.network_policy.enabled:
            self._network_policy(unit)

    # --- the pod ---------------------------------------------------------------------------
    def _probe(self, probe: Probe) -> core.ProbeArgs:
        port = self.config.probes.port or HTTP
        return core.ProbeArgs(
            http_get=core.HTTPGetActionArgs(path=probe.path, port=port),
            initial_delay_seconds=probe.initial_delay_seconds,
            period_seconds=probe.period_seconds,
            timeout_seconds=probe.timeout_seconds,
            failure_threshold=probe.failure_threshold,
        )

    def _container(self, unit: ReleaseUnit, secret_values: dict) -> core.ContainerArgs:
        c = self.config
        env = [pod.secret_env(b.env_name, b.secret_name, b.secret_key or b.env_name) for b in self.backends]
        if self.existing_secret:
            env += [pod.secret_env(name, self.existing_secret, key) for name, key in sorted(c.secret_env.items())]
        else:
            env += [pod.secret_env(name, c.name, name) for name in secret_values]
        env += pod.extra_env_vars(c.extra_env)
        mounts = [core.VolumeMountArgs(name=pod.TMP_VOLUME, mount_path="/tmp")]
        if c.persistence.enabled:
            mounts.append(core.VolumeMountArgs(name=DATA_VOLUME, mount_path="/data"))
        mounts += pod.volume_mounts(c.extra_volume_mounts)
        return core.ContainerArgs(
            name="app",
            image=unit.image,
            image_pull_policy=c.image_pull_policy,
            command=c.command,
            args=c.args,
            ports=[
                core.ContainerPortArgs(name=HTTP, container_port=c.port, protocol="TCP"),
                *(
                    [core.ContainerPortArgs(name="metrics", container_port=self.monitoring.port, protocol="TCP")]
                    if self.monitoring.enabled
                    else []
                ),
            ],
            env_from=[
                core.EnvFromSourceArgs(config_map_ref=core.ConfigMapEnvSourceArgs(name=c.name)),
                *pod.env_from_sources(c.env_from),
            ],
            env=env,
            resources=pod.resource_requirements(c.resources),
            security_context=pod.container_security_context(c.security_context),
            startup_probe=self._probe(c.probes.startup),
            liveness_probe=self._probe(c.probes.liveness),
            readiness_probe=self._probe(c.probes.readiness),
            # Endpoints are removed asynchronously; keep serving for a moment before SIGTERM.
            lifecycle=core.LifecycleArgs(
                pre_stop=core.LifecycleHandlerArgs(
                    exec_=core.ExecActionArgs(command=["sleep", str(c.drain.pre_stop_seconds)])
                )
            ),
            volume_mounts=mounts,
        )

    def _pod_template(self, unit: ReleaseUnit, plain_env: dict, secret_values: dict) -> core.PodTemplateSpecArgs:
        c = self.config
        selector = selector_labels(unit.name)
        pod_labels = {
            **self.unit_labels[unit.name],
            **{k: v for k, v in self.pod_labels.items() if k not in self.labels},
        }
        annotations = {**c.pod_annotations, "checksum/config": pod.checksum(plain_env)}
        m = self.monitoring
        if m.enabled and not m.service_monitor:  # a Prometheus without the operator finds the pods by these
            annotations.update(
                {"prometheus.io/scrape": "true", "prometheus.io/port": str(m.port), "prometheus.io/path": m.path}
            )
        if secret_values:
            annotations["checksum/secret"] = pod.checksum(secret_values)
        for b in self.backends:
            if b.checksum:  # none for a Secret managed elsewhere (its changes need a restart or a reloader)
                annotations[f"checksum/{b.secret_name}"] = b.checksum
        return core.PodTemplateSpecArgs(
            metadata=meta.ObjectMetaArgs(labels={**c.pod_labels, **pod_labels}, annotations=annotations),
            spec=core.PodSpecArgs(
                service_account_name=self.service_account_name,
                automount_service_account_token=False,
                enable_service_links=False,
                security_context=pod.pod_security_context(c.security_context),
                termination_grace_period_seconds=c.drain.termination_grace_seconds,
                containers=[
                    self._container(unit, secret_values),
                    *[pod.extra_container(x, c.security_context, c.image_pull_policy, True) for x in c.sidecars],
                ],
                init_containers=[
                    pod.extra_container(x, c.security_context, c.image_pull_policy, False) for x in c.init_containers
                ]
                or None,
                volumes=[pod.scratch_volume(), *pod.extra_volumes(c.extra_volumes)],
                **pod.scheduling_fields(c.scheduling, pod.placement(selector, self.availability), self.pull_secrets),
            ),
        )

    def _workload(self, unit: ReleaseUnit, plain_env: dict, secret_values: dict) -> pulumi.CustomResource:
        c = self.config
        depends = [r for r in (self.config_map, self.secret, self.migration) if r is not None]
        opts = pulumi.ResourceOptions(parent=self, depends_on=depends)
        # With an HPA the autoscaler owns the replica count; setting it here too makes
        # every `pulumi up` reset the scale (server-side apply conflict).
        replicas = None if unit.autoscaled else unit.replicas
        template = self._pod_template(unit, plain_env, secret_values)
        selector = meta.LabelSelectorArgs(match_labels=selector_labels(unit.name))
        metadata = self._unit_meta(unit)
        # Both kinds replace one pod at a time (maxSurge 1 / maxUnavailable 0; a StatefulSet's
        # RollingUpdate, whatever its podManagementPolicy), each waiting for the old pod's
        # drain and the new pod's startup probe: at the HPA maximum that can be far beyond the
        # provider's default 10 minutes.
        startup = c.probes.startup
        annotations = {
            **CHECKOV_SKIPS,
            pod.TIMEOUT_SECONDS: str(
                pod.rollout_timeout_seconds(
                    c.max_pods(),
                    c.drain.termination_grace_seconds,
                    startup.initial_delay_seconds + startup.period_seconds * startup.failure_threshold,
                )
            ),
        }
        if c.kind == "Deployment":
            return apps.Deployment(
                unit.name,
                metadata=metadata(unit.name, annotations),
                spec=apps.DeploymentSpecArgs(
                    replicas=replicas,
                    selector=selector,
                    template=template,
                    strategy=apps.DeploymentStrategyArgs(
                        type="RollingUpdate",
                        rolling_update=apps.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
                    ),
                    min_ready_seconds=5,
                    revision_history_limit=5,
                    progress_deadline_seconds=600,
                ),
                opts=opts,
            )
        claims = None
        if c.persistence.enabled:
            claims = [pod.volume_claim_template(DATA_VOLUME, c.persistence, self.platform_labels)]
        return apps.StatefulSet(
            c.name,
            metadata=metadata(c.name, annotations),
            spec=apps.StatefulSetSpecArgs(
                replicas=replicas,
                selector=selector,
                template=template,
                service_name=f"{c.name}-headless",
                pod_management_policy="Parallel",
                update_strategy=apps.StatefulSetUpdateStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=apps.RollingUpdateStatefulSetStrategyArgs(partition=c.rollout.partition or 0),
                ),
                persistent_volume_claim_retention_policy=apps.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                    when_deleted="Retain", when_scaled="Retain"
                ),
                volume_claim_templates=claims,
                min_ready_seconds=5,
                revision_history_limit=5,
            ),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=pod.VOLUME_CLAIM_IGNORES)),
        )

    # --- scaling and isolation -----------------------------------------------------------------
    def _autoscaler(self, unit: ReleaseUnit) -> autoscaling.HorizontalPodAutoscaler:
        c = self.config
        a = c.autoscaling
        metrics = []
        for resource, target in (("cpu", a.target_cpu_percent), ("memory", a.target_memory_percent)):
            if target:
                metrics.append(
                    autoscaling.MetricSpecArgs(
                        type="Resource",
                        resource=autoscaling.ResourceMetricSourceArgs(
                            name=resource,
                            target=autoscaling.MetricTargetArgs(type="Utilization", average_utilization=target),
                        ),
                    )
                )
        if a.pods_metric:
            metrics.append(
                autoscaling.MetricSpecArgs(
                    type="Pods",
                    pods=autoscaling.PodsMetricSourceArgs(
                        metric=autoscaling.MetricIdentifierArgs(name=a.pods_metric.name),
                        target=autoscaling.MetricTargetArgs(
                            type="AverageValue", average_value=a.pods_metric.target_average_value
                        ),
                    ),
                )
            )
        return autoscaling.HorizontalPodAutoscaler(
            unit.name,
            metadata=self._unit_meta(unit)(unit.name),
            spec=autoscaling.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=autoscaling.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind=c.kind, name=self.workloads[unit.name].metadata.name
                ),
                min_replicas=a.min_replicas,
                max_replicas=a.max_replicas,
                metrics=metrics,
                behavior=autoscaling.HorizontalPodAutoscalerBehaviorArgs(
                    # Removing a pod cuts its streams short: scale down slowly, one pod at a time.
                    scale_down=autoscaling.HPAScalingRulesArgs(
                        stabilization_window_seconds=a.scale_down_stabilization_seconds,
                        select_policy="Min",
                        policies=[autoscaling.HPAScalingPolicyArgs(type="Pods", value=1, period_seconds=60)],
                    ),
                    scale_up=autoscaling.HPAScalingRulesArgs(
                        stabilization_window_seconds=0,
                        select_policy="Max",
                        policies=[
                            autoscaling.HPAScalingPolicyArgs(type="Percent", value=100, period_seconds=30),
                            autoscaling.HPAScalingPolicyArgs(type="Pods", value=4, period_seconds=30),
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _scaling_behavior(self) -> dict:
        a = self.config.autoscaling
        # The HPA's behaviour, as KEDA passes it to the HPA it creates: slow, one-pod scale-down.
        return {
            "scaleDown": {
                "stabilizationWindowSeconds": a.scale_down_stabilization_seconds,
                "selectPolicy": "Min",
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
            },
            "scaleUp": {
                "stabilizationWindowSeconds": 0,
                "selectPolicy": "Max",
                "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 30},
                    {"type": "Pods", "value": 4, "periodSeconds": 30},
                ],
            },
        }

    def _scaled_object(self, unit: ReleaseUnit) -> k8s.apiextensions.CustomResource:
        """KEDA ScaledObject on pending runs, with a TriggerAuthentication reading the store's Secret."""
        c = self.config
        a, keda = c.autoscaling, c.autoscaling.keda
        backend = next((b for b in self.backends if b.store == keda.trigger), None)
        if backend is None:
            raise ConfigError([f"autoscaling.keda.trigger: no {keda.trigger} backend passed"], f"AgentService {c.name}")
        meta_ = self._unit_meta(unit)
        opts = pulumi.ResourceOptions(parent=self)
        if keda.trigger == "postgres":
            secret_refs = [
                {"parameter": "connection", "name": backend.secret_name, "key": backend.secret_key or backend.env_name}
            ]
            trigger = {
                "type": "postgresql",
                "metadata": {"query": keda.query, "targetQueryValue": str(keda.target_value)},
            }
        else:
            # The password only: KEDA's redis scaler takes the address apart from it.
            secret_refs = [{"parameter": "password", "name": backend.secret_name, "key": "password"}]
            trigger = {
                "type": "redis",
                "metadata": {
                    "address": pulumi.Output.concat(
                        backend.store, ".", self.namespace_name, ".svc:", str(backend.port)
                    ),
                    "listName": keda.list_name,
                    "listLength": str(keda.target_value),
                },
            }
        auth = k8s.apiextensions.CustomResource(
            f"{unit.name}-scaler",
            api_version="keda.sh/v1alpha1",
            kind="TriggerAuthentication",
            metadata=meta_(f"{unit.name}-scaler"),
            spec={"secretTargetRef": secret_refs},
            opts=opts,
        )
        trigger["authenticationRef"] = {"name": f"{unit.name}-scaler"}
        return k8s.apiextensions.CustomResource(
            unit.name,
            api_version="keda.sh/v1alpha1",
            kind="ScaledObject",
            metadata=meta_(unit.name),
            spec={
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": c.kind,
                    "name": self.workloads[unit.name].metadata.name,
                },
                "minReplicaCount": a.min_replicas,
                "maxReplicaCount": a.max_replicas,
                "pollingInterval": keda.polling_interval_seconds,
                "cooldownPeriod": a.scale_down_stabilization_seconds,
                "advanced": {"horizontalPodAutoscalerConfig": {"behavior": self._scaling_behavior()}},
                "triggers": [trigger],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[auth]),
        )

    def _network_policy(self, unit: ReleaseUnit) -> net.NetworkPolicy:
        return net.NetworkPolicy(
            unit.name,
            metadata=self._unit_meta(unit)(unit.name),
            spec=service_network_policy.spec(
                selector_labels(unit.name),
                self.config.port,
                self.network,
                self.monitoring,
                callers=self.callers,
                exposed=self.exposed,
                callees=self.callees,
                backends=self.backends,
                tracing=self.tracing,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
