"""Datastore: the shape Postgres and Redis share.

In-cluster: a generated password, a Secret with it and the connection URL, a
single-replica StatefulSet with volumeClaimTemplates kept on delete and scale-down,
a headless Service, a NetworkPolicy admitting only the pods labelled as its
clients, and optionally a PDB. External: only the Secret with the URL from a
secret stack config key. Either way the agent pods read `<store>-connection`'s
URL key, so switching modes changes no agent object.

Subclasses say what differs: image, port, container env, args, probes and mounts.
"""

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from agent_platform import operators
from agent_platform.args import BackendArgs
from agent_platform.component_args import secret_value, settings_of
from agent_platform.k8s import pod
from agent_platform.k8s.peers import namespace_peer
from agent_platform.labels import CLIENT_OF, image_version, selector_labels, standard_labels
from agent_platform.settings.stores import DatastoreBase

apps = k8s.apps.v1
core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1

DATA_VOLUME = "data"
CREDENTIALS_VOLUME = "credentials"
GRACE_SECONDS = 60  # a clean shutdown (checkpoint / AOF flush) before SIGKILL
START_BUDGET_SECONDS = 300  # a restart may replay WAL / load the AOF before it is ready


class Datastore(pulumi.ComponentResource):
    # What each store says (class constants, not outputs: the provider's schema lists annotated attributes).
    store = ""  # postgres | redis: names every object
    port = 0
    url_key = ""  # key of the URL in the connection Secret (DATABASE_URL / REDIS_URL)
    data_path = ""  # where the volume mounts
    scratch_paths = ("/tmp",)
    settings_model = DatastoreBase
    args_type = dict

    host: pulumi.Output[str]
    """Host name clients connect to (`external` for a managed instance)."""
    url: pulumi.Output[str]
    """Connection URL, a secret."""
    secret_name: pulumi.Output[str]
    """Secret holding the URL (key DATABASE_URL or REDIS_URL) that agent pods read."""

    def __init__(self, resource_name: str, args: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"agent-platform:k8s:{type(self).__name__}", resource_name, None, opts)
        where = f"{type(self).__name__} {resource_name}"
        config = settings_of(self.settings_model, args, self.args_type, where)
        self.config = config
        namespace = args["namespace"]
        self.namespace = namespace
        self.platform_labels = standard_labels(
            self.store, "datastore", args["environment"], image_version(getattr(config, "image", ""))
        )
        self.labels = pod.with_common(self.platform_labels, args.get("labels"))
        self.meta = pod.Metadata(namespace, self.labels, dict(args.get("annotations") or {}))
        self.pull_secrets = list(args.get("image_pull_secrets") or [])
        cluster_domain = args.get("cluster_domain") or "cluster.local"
        self.connection_secret = f"{self.store}-connection"
        self.client_label = CLIENT_OF.format(store=self.store)
        # KEDA's operator, when a ScaledObject's trigger reads this store: its policies admit it.
        self.scaler_namespace: str = args.get("scaler_namespace") or ""
        # Data-bearing objects survive `pulumi destroy` and replacement when protected.
        keep = pulumi.ResourceOptions(protect=config.protect, retain_on_delete=config.protect)
        child = pulumi.ResourceOptions(parent=self)

        existing = args.get("existing_secret") or ""
        self.secret_key = self.url_key
        self.secret_checksum: pulumi.Input[str] = ""
        if config.mode == "external":
            self._external(args, existing, where, child, keep)
        elif config.mode == "cloudnativepg":
            self._operated(args, cluster_domain, child, keep)
        else:
            self._in_cluster(args, cluster_domain, child, keep)
        self.secret_name = pulumi.Output.from_input(self.connection_secret)
        self.backend: BackendArgs = {
            "store": self.store,
            "env_name": self.url_key,
            "secret_name": self.connection_secret,
            "secret_key": self.secret_key,
            "port": self.port,
            "in_cluster": config.mode in ("inCluster", "cloudnativepg"),
            "checksum": self.secret_checksum,
            **self.backend_extras(),
        }
        self.register_outputs({"host": self.host, "url": self.url, "secretName": self.secret_name})

    def _external(
        self,
        args: Mapping[str, Any],
        existing: str,
        where: str,
        child: pulumi.ResourceOptions,
        keep: pulumi.ResourceOptions,
    ) -> None:
        """A managed store: the URL in the team's own Secret, or in a Secret of ours from secret_values."""
        config = self.config
        if existing:
            # The URL stays in the team's own Secret; the agent pods read it from there.
            self.connection_secret, self.secret_key = existing, config.external_url_key
            self.url = pulumi.Output.secret("")
            self.host = pulumi.Output.from_input("external")
            self.secret = None
        else:
            self.url = secret_value(args.get("secret_values") or {}, config.external_url_key, where, "external_url_key")
            self.host = pulumi.Output.from_input("external")
            self.secret = self._secret({self.url_key: self.url}, pulumi.ResourceOptions.merge(child, keep))

    def _password(self, child: pulumi.ResourceOptions) -> random.RandomPassword:
        """The generated password, URL-safe (it is embedded in the DSN), protected as the store is."""
        return random.RandomPassword(
            f"{self.store}-password",
            length=32,
            special=False,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=self.config.protect)),
        )

    def _operated(
        self, args: Mapping[str, Any], cluster_domain: str, child: pulumi.ResourceOptions, keep: pulumi.ResourceOptions
    ) -> None:
        """An operator runs the store: a generated password, the operator's objects, the URL to its host."""
        namespace = self.namespace
        self.password = self._password(child)
        self.host = pulumi.Output.concat(
            self.operator_managed(child, keep, args.get("metrics_namespace") or ""),
            ".",
            namespace,
            ".svc.",
            cluster_domain,
        )
        self.url = pulumi.Output.secret(self.connection_url(self.password.result, self.host))
        self.secret = self._secret({self.url_key: self.url}, pulumi.ResourceOptions.merge(child, keep))

    def _in_cluster(
        self, args: Mapping[str, Any], cluster_domain: str, child: pulumi.ResourceOptions, keep: pulumi.ResourceOptions
    ) -> None:
        """The store as a StatefulSet of ours: password, Secret, headless Service, policy and disruption budget."""
        config, namespace = self.config, self.namespace
        self.password = self._password(child)
        self.host = pulumi.Output.concat(self.store, ".", namespace, ".svc.", cluster_domain)
        self.url = pulumi.Output.secret(self.connection_url(self.password.result, self.host))
        self.secret = self._secret(
            {
                "password": self.password.result,
                self.url_key: self.url,
                **self.server_secret_data(self.password.result),
            },
            pulumi.ResourceOptions.merge(child, keep),
        )
        self.service = core.Service(
            self.store,
            metadata=self.meta(self.store),
            spec=core.ServiceSpecArgs(
                cluster_ip="None",  # headless: the StatefulSet's stable DNS identity
                selector=selector_labels(self.store),
                ports=[core.ServicePortArgs(name=self.store, port=self.port, target_port=self.store)],
            ),
            opts=child,
        )
        self.stateful_set = self._stateful_set(
            pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(depends_on=[self.secret]))
            )
        )
        if config.network_policy.enabled:
            self.network_policy = net.NetworkPolicy(
                self.store,
                metadata=self.meta(self.store),
                spec=net.NetworkPolicySpecArgs(
                    pod_selector=meta.LabelSelectorArgs(match_labels=selector_labels(self.store)),
                    policy_types=["Ingress", "Egress"],  # no egress: a data store calls no one
                    ingress=[
                        net.NetworkPolicyIngressRuleArgs(
                            from_=[
                                net.NetworkPolicyPeerArgs(
                                    pod_selector=meta.LabelSelectorArgs(match_labels={self.client_label: "true"})
                                ),
                                *self._scaler_peers(self.scaler_namespace),
                            ],
                            ports=[net.NetworkPolicyPortArgs(protocol="TCP", port=self.port)],
                        )
                    ],
                ),
                opts=child,
            )
        if config.pdb.enabled:
            self.pdb = k8s.policy.v1.PodDisruptionBudget(
                self.store,
                metadata=self.meta(self.store),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    selector=meta.LabelSelectorArgs(match_labels=selector_labels(self.store)),
                    max_unavailable=config.pdb.max_unavailable if config.pdb.min_available is None else None,
                    min_available=config.pdb.min_available,
                ),
                opts=child,
            )

    @staticmethod
    def _scaler_peers(namespace: str | None) -> list[net.NetworkPolicyPeerArgs]:
        """The KEDA operator asks the store how much work is pending: admit it, and only it."""
        if not namespace:
            return []
        return [namespace_peer(namespace, operators.PEERS["keda"])]

    # --- what each store says ------------------------------------------------------------
    def operator_managed(
        self, child: pulumi.ResourceOptions, keep: pulumi.ResourceOptions, metrics_namespace: str
    ) -> str:
        """An operator runs the store (a mode only some stores have): declare its objects, return the host."""
        raise NotImplementedError

    def backend_extras(self) -> dict:
        """Extra BackendArgs keys the store tells its clients."""
        return {}

    def connection_url(self, password: pulumi.Output[str], host: pulumi.Output[str]) -> pulumi.Output[str]:
        raise NotImplementedError

    def container(self) -> core.ContainerArgs:
        raise NotImplementedError

    # --- shared --------------------------------------------------------------------------
    @property
    def credentials_dir(self) -> str:
        """Where the connection Secret is mounted read-only: the password reaches the server as a file, not env."""
        return f"/run/secrets/{self.store}"

    def server_secret_data(self, password: pulumi.Output[str]) -> dict:
        """Extra Secret keys the server reads from its credentials dir (e.g. a config include)."""
        return {}

    def _secret(self, data: dict, opts: pulumi.ResourceOptions) -> core.Secret:
        # Checksum over the INPUTS: the live Secret has `data`, never `stringData`, so hashing
        # the resource's output would hash nothing on a real cluster. Agent pods carry it too,
        # so a new password or external DSN rolls them (the Secret itself is updated in
        # place: enableSecretMutable on the provider, see platform.py).
        self.secret_checksum = pod.checksum(data)
        return core.Secret(
            self.connection_secret,
            metadata=self.meta(self.connection_secret),
            type="Opaque",
            string_data=data,
            opts=opts,
        )

    def volume_mounts(self) -> list[core.VolumeMountArgs]:
        mounts = [
            core.VolumeMountArgs(name=DATA_VOLUME, mount_path=self.data_path),
            core.VolumeMountArgs(name=CREDENTIALS_VOLUME, mount_path=self.credentials_dir, read_only=True),
        ]
        mounts += [core.VolumeMountArgs(name=f"scratch-{i}", mount_path=p) for i, p in enumerate(self.scratch_paths)]
        return mounts

    def _stateful_set(self, opts: pulumi.ResourceOptions) -> apps.StatefulSet:
        config = self.config
        selector = selector_labels(self.store)
        volumes = [pod.scratch_volume(f"scratch-{i}") for i, _ in enumerate(self.scratch_paths)]
        volumes.append(
            core.VolumeArgs(
                name=CREDENTIALS_VOLUME,
                secret=core.SecretVolumeSourceArgs(secret_name=self.connection_secret, default_mode=0o440),
            )
        )
        claims = None
        if config.persistence.enabled:
            claims = [pod.volume_claim_template(DATA_VOLUME, config.persistence, self.platform_labels)]
        else:
            volumes.append(pod.scratch_volume(DATA_VOLUME, size_limit=config.persistence.size))
        # One pod: a rollout is one drain and one start (crash recovery / WAL replay included).
        timeout = pod.rollout_timeout_seconds(1, GRACE_SECONDS, START_BUDGET_SECONDS)
        return apps.StatefulSet(
            self.store,
            metadata=self.meta(self.store, {pod.TIMEOUT_SECONDS: str(timeout)}),
            spec=apps.StatefulSetSpecArgs(
                service_name=self.store,
                replicas=1,
                selector=meta.LabelSelectorArgs(match_labels=selector),
                update_strategy=apps.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
                persistent_volume_claim_retention_policy=apps.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                    when_deleted="Retain", when_scaled="Retain"
                ),
                volume_claim_templates=claims,
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(
                        labels={**config.pod_labels, **self.labels},
                        annotations={**config.pod_annotations, "checksum/secret": self.secret_checksum},
                    ),
                    spec=core.PodSpecArgs(
                        automount_service_account_token=False,
                        enable_service_links=False,
                        security_context=pod.pod_security_context(config.security_context),
                        termination_grace_period_seconds=GRACE_SECONDS,
                        containers=[self.container()],
                        volumes=volumes,
                        **pod.scheduling_fields(config.scheduling, pull_secrets=self.pull_secrets),
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=pod.VOLUME_CLAIM_IGNORES)),
        )
