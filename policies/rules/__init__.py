"""Every rule of the agent-platform pack, in one list (importing this starts no server)."""

from __future__ import annotations

from . import (
    availability,
    batch,
    data,
    docker,
    durability,
    exposure,
    externalsecrets,
    gateway,
    hygiene,
    keda,
    network,
    operations,
    prometheus,
    pss,
    registry,
    secrets,
    workload,
)
from .base import Rule

ALL_RULES: list[Rule] = [
    value
    for module in (
        workload,
        pss,
        exposure,
        secrets,
        availability,
        network,
        hygiene,
        data,
        docker,
        operations,
        durability,
        gateway,
        keda,
        externalsecrets,
        prometheus,
        batch,
        registry,
    )
    for value in vars(module).values()
    if isinstance(value, Rule)
]
RULES_BY_NAME = {r.name: r for r in ALL_RULES}
assert len(RULES_BY_NAME) == len(ALL_RULES), "duplicate rule names"
