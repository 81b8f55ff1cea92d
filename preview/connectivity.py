"""The connectivity table of a render: every path the stack relies on, and the NetworkPolicy rule admitting it.

The paths and the semantics are the policy pack's (policies/rules/connectivity.py, netpol.py), so the
preview and `pulumi preview --policy-pack policies` agree; the preview adds what only the stack file
says: the namespaces of the data planes outside the stack, and the egress the agent pods rely on.
Connection Secrets are read from the captured inputs (the manifests hold `[secret]`): only the host
and port of a URL are kept, never printed with the credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent_platform.settings.stack import StackConfig

from policies.rules.connectivity import Checked, Stack, format_table, table_rows
from preview.render import Manifest


@dataclass
class Report:
    checked: list[Checked]
    warnings: list[str]

    @property
    def failures(self) -> list[str]:
        return [c.failure() for c in self.checked if not c.verdict.allowed]

    def lines(self, markdown: bool = False) -> list[str]:
        return format_table(table_rows(self.checked), markdown)

    def summary(self) -> str:
        denied = len(self.failures)
        return (
            f"connectivity: {len(self.checked)} path(s) the stack relies on, "
            + (f"{denied} admitted by no NetworkPolicy rule" if denied else "each admitted by a NetworkPolicy rule")
            + (f"; {len(self.warnings)} warning(s)" if self.warnings else "")
        )


def _objects(kube: list[Manifest]) -> list[dict]:
    objects = []
    for m in kube:
        obj = m.obj
        if m.kind == "Secret":
            raw = m.resource.raw_inputs
            obj = {**obj, **{f: raw[f] for f in ("stringData", "data") if isinstance(raw.get(f), dict)}}
        objects.append(obj)
    return objects


def peers(config: StackConfig) -> dict[str, str]:
    """Where each data plane outside the stack runs, as the stack file says."""
    found = {"ingress": config.network.ingress_controller_namespace, "monitoring": config.monitoring.namespace}
    found["cnpg"] = config.postgres.operator_namespace
    keda = sorted({s.autoscaling.keda.operator_namespace for s in config.services if s.autoscaling.engine == "keda"})
    if keda:
        found["keda"] = keda[0]
    if config.exposure == "gatewayApi" and config.gateway is not None:
        found["gateway"] = config.gateway_data_plane_namespace()
    return found


def connectivity(kube: list[Manifest], config: StackConfig | None) -> Report | None:
    """The report for a Kubernetes render (None for a Docker stack)."""
    if not any(m.kind == "NetworkPolicy" for m in kube) and not any(m.kind == "Deployment" for m in kube):
        return None
    external = []
    dns_address = ""
    if config is not None:
        dns_address = config.network.node_local_dns or ""
        external = [
            (unit, rule.cidr, list(rule.except_cidrs), port)
            for s in config.services
            for unit in s.pod_names()
            for rule in config.network.egress
            for port in rule.ports
        ]
    stack = Stack(
        _objects(kube),
        peers(config) if config else {},
        config.network.dns_namespace if config else "kube-system",
        external,
        dns_address,
    )
    return Report(stack.check(), stack.warnings())
