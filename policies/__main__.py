"""The agent-platform CrossGuard policy pack.

`pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json`
runs it; so does the offline preview, through the same analyzer gRPC protocol.
Constructing the PolicyPack starts the analyzer server and blocks, so only this
file does it; the rules live in importable modules (policies/rules/).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

# The pack runs with policies/ as its working directory; import the rules as the
# `policies` package the tests use.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import (  # noqa: E402
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from policies.rules import ALL_RULES  # noqa: E402
from policies.rules.base import Resource, Rule  # noqa: E402


def plain(value: Any) -> Any:
    """The engine's property proxies as plain dicts and lists, as the pure checks expect."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire (protobuf Struct) carries every number as a double
    return value


def schema(rule: Rule) -> PolicyConfigSchema:
    # Every rule accepts a `reason`: the policy config files say why a level was lowered.
    properties = {"reason": {"type": "string"}}
    properties.update({k: dict(v) for k, v in rule.config.items()})
    return PolicyConfigSchema(properties=properties)


def to_policy(rule: Rule):
    common = dict(
        name=rule.name, description=rule.description, config_schema=schema(rule),
        severity=Severity[rule.severity.upper()], remediation_steps=rule.remediation, tags=list(rule.tags),
    )
    if rule.stack:
        def validate_stack(args, report_violation):
            resources = [Resource(r.resource_type, r.name, r.urn, plain(r.props), bool(r.opts.protect)) for r in args.resources]
            for message, urn in rule.run(resources, plain(args.get_config())):
                report_violation(message, urn or None)
        return StackValidationPolicy(validate=validate_stack, **common)

    def validate_resource(args, report_violation):
        if not rule.applies_to(args.resource_type):
            return
        for message in rule.run(plain(args.props), plain(args.get_config())):
            report_violation(message)
    return ResourceValidationPolicy(validate=validate_resource, **common)


if __name__ == "__main__":
    PolicyPack(
        name="agent-platform",
        policies=[to_policy(rule) for rule in ALL_RULES],
        enforcement_level=EnforcementLevel.MANDATORY,
    )
