"""The Barman Cloud plugin's ObjectStore spec: where backups go, how, and for how long (pure)."""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s

from agent_platform.k8s.cloudnativepg.names import resource_amounts
from agent_platform.settings.stores import BARMAN_SIDECAR_RESOURCES, PostgresConfig

core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1
rbac = k8s.rbac.v1
batch = k8s.batch.v1


def object_store_spec(c: PostgresConfig) -> dict[str, Any]:
    store = c.backup.object_store
    assert store is not None  # PostgresConfig requires it in mode cloudnativepg with backups
    configuration: dict[str, Any] = {"destinationPath": store.destination_path}
    if store.endpoint_url:
        configuration["endpointURL"] = store.endpoint_url
    creds = store.credentials
    scheme = store.destination_path.split("://", 1)[0]
    if scheme == "s3":
        configuration["s3Credentials"] = (
            {"inheritFromIAMRole": True}
            if creds.workload_identity
            else {
                "accessKeyId": {"name": creds.secret_name, "key": "ACCESS_KEY_ID"},
                "secretAccessKey": {"name": creds.secret_name, "key": "ACCESS_SECRET_KEY"},
            }
        )
    elif scheme == "gs":
        configuration["googleCredentials"] = (
            {"gkeEnvironment": True}
            if creds.workload_identity
            else {"applicationCredentials": {"name": creds.secret_name, "key": "APPLICATION_CREDENTIALS"}}
        )
    else:
        configuration["azureCredentials"] = (
            {"inheritFromAzureAD": True}
            if creds.workload_identity
            else {"connectionString": {"name": creds.secret_name, "key": "AZURE_STORAGE_CONNECTION_STRING"}}
        )
    configuration["wal"] = {"compression": "gzip"}
    configuration["data"] = {"compression": "gzip"}
    return {
        "configuration": configuration,
        "retentionPolicy": f"{c.backup.retention_days}d",
        # The plugin's sidecar in every instance pod (and the drill's) takes these; unset, it would take
        # the LimitRange's defaults, which the quota cannot know (operators.cnpg_instance_pod).
        "instanceSidecarConfiguration": {"resources": resource_amounts(BARMAN_SIDECAR_RESOURCES)},
    }
