"""The Pooler: PgBouncer in front of the primary, the clients' stable endpoint `<cluster>-pooler-rw` (pure)."""

from __future__ import annotations

from typing import Any

from agent_platform import operators
from agent_platform.k8s.cloudnativepg.names import pooler_name, resource_amounts
from agent_platform.settings.stores import POOLER_RESOURCES, PostgresConfig


def pooler_spec(c: PostgresConfig, cluster: str, labels: dict[str, str]) -> dict[str, Any]:
    """PgBouncer in front of `cluster`'s primary, spread across zones, its pods labelled `labels` (the
    operator sets its own app.kubernetes.io labels over them: operators.cnpg_pooler_labels)."""
    return {
        "cluster": {"name": cluster},
        "type": "rw",
        "instances": c.pooler.instances,
        "pgbouncer": {
            "poolMode": c.pooler.pool_mode,
            "parameters": {
                "default_pool_size": str(c.pooler.default_pool_size),
                "max_client_conn": str(c.pooler.max_client_conn),
                # psycopg prepares statements; PgBouncer tracks them in transaction mode (1.21+).
                "max_prepared_statements": "200",
            },
        },
        "template": {
            # The operator sets its own app.kubernetes.io labels over the template's
            # (operators.cnpg_pooler_labels): the agents select PgBouncer by cnpg.io/poolerName.
            "metadata": {"labels": labels},
            "spec": {
                "containers": [
                    {
                        "name": "pgbouncer",
                        "resources": resource_amounts(POOLER_RESOURCES),
                    }
                ],
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": operators.cnpg_pooler_selector(pooler_name(c, cluster))},
                    }
                ],
            },
        },
    }
