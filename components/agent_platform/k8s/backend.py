"""A data store as an agent service's pods reach it: the checked form of BackendArgs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from agent_platform.args import BackendArgs
from agent_platform.labels import selector_labels


@dataclass(frozen=True)
class Backend:
    """A data store the service may use (BackendArgs, checked)."""

    store: str  # postgres | redis
    env_name: str  # DATABASE_URL | REDIS_URL
    secret_name: str  # <store>-connection
    port: int
    secret_key: str = ""  # key of the URL in the Secret; default env_name
    in_cluster: bool = False
    # sha256 of the connection Secret's inputs: on the pod template, a new DSN rolls the pods.
    checksum: pulumi.Input[str] = ""
    backup_cluster: str = ""  # a CloudNativePG Cluster backed up (Backup CR) before each migration
    backup_timeout_seconds: int = 3600
    # The pods behind the store's address (the egress peer); default: the store's selector labels.
    pod_labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, args: BackendArgs) -> Backend:
        return cls(**args)

    @property
    def peer_labels(self) -> dict[str, str]:
        return dict(self.pod_labels) if self.pod_labels else selector_labels(self.store)
