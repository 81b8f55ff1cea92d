"""The bridge between the pure rules and pulumi_policy's analyzer (the only module that imports it).

Three things the engine does that a rule must survive (pulumi-policy 1.21,
sdk/python/lib/pulumi_policy/policy.py `Analyze` / `AnalyzeStack`):

- Unknowns. In a preview, values a provider computes arrive as sentinel strings
  (pulumi_policy/proxy.py UNKNOWN_*_VALUE). The SDK wraps props in a proxy that raises
  UnknownValueError on *access*; walking every property to build plain dicts would then
  switch off every rule on a resource with one unknown anywhere. Here each unknown
  becomes an `Unknown` placeholder that raises only when a rule *uses* it (truth,
  comparison, str, iteration, lookup), so a rule is skipped (the SDK's advisory "can't run
  policy ... during preview", naming the field) only when it needs that field.
- Outputs. AnalyzeStack gets each resource's outputs: for pulumi-kubernetes the live
  object plus the inputs under `__inputs`, secret-wrapped (pulumi-kubernetes
  provider/pkg/provider/provider.go `checkpointObject`). A live Deployment always has
  `spec.replicas` (API-server default, then the HPA). Stack rules judge what the program
  declares, as resource rules do: `__inputs` when present, else the properties.
- Malformed input. Any exception a rule raises on unexpected shapes is reported as a
  violation of that rule (fail closed), never as a gRPC error.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from pulumi_policy import PolicyConfigSchema, ResourceValidationPolicy, Severity, StackValidationPolicy
from pulumi_policy import proxy as policy_proxy
from pulumi_policy.proxy import UnknownValueError

from .base import Resource, Rule

UNKNOWN_SENTINELS = frozenset(
    value for name, value in vars(policy_proxy).items() if name.startswith("UNKNOWN_") and name.endswith("_VALUE"))
INPUTS_KEY = "__inputs"
MAX_MESSAGE = 300


class Unknown:
    """A value not known until the update; using it means the rule cannot decide yet."""

    __slots__ = ("sentinel", "path")

    def __init__(self, sentinel: str, path: tuple[str, ...]) -> None:
        self.sentinel = sentinel
        self.path = path

    def _needed(self, *_: Any, **__: Any):
        raise UnknownValueError(self.sentinel, list(self.path))

    __bool__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _needed
    __str__ = __int__ = __float__ = __len__ = __iter__ = __contains__ = __getitem__ = _needed
    get = items = keys = values = startswith = endswith = lower = upper = split = _needed
    require_known = _needed
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<unknown .{'.'.join(self.path)}>"


def _raw(value: Any) -> Any:
    """The value behind pulumi_policy's unknown-checking proxy, without triggering its check."""
    name = type(value).__name__
    if name in ("_DictProxy", "_ListProxy"):
        return value["__target"]  # the proxies' own escape hatch (pulumi_policy/proxy.py)
    return value


def plain(value: Any, path: tuple[str, ...] = ()) -> Any:
    """Props as plain dicts and lists; unknowns as `Unknown`; integral doubles as ints."""
    value = _raw(value)
    if isinstance(value, Mapping):
        return {k: plain(v, path + (str(k),)) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(v, path + (str(i),)) for i, v in enumerate(value)]
    if isinstance(value, str) and value in UNKNOWN_SENTINELS:
        return Unknown(value, path)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire (protobuf Struct) carries every number as a double
    return value


def declared(props: Any) -> Any:
    """What the program declared: pulumi-kubernetes' `__inputs` in outputs, else the props."""
    if isinstance(props, dict):
        inputs = props.get(INPUTS_KEY)
        if isinstance(inputs, dict):
            return inputs
    return props


def _malformed(rule: Rule, error: Exception) -> str:
    text = f"cannot check {rule.name}: malformed properties ({type(error).__name__}: {error})"
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 1] + "…"


def evaluate(rule: Rule, subject: Any, config: Mapping[str, Any]) -> list:
    """Run a rule; unknowns it needs propagate (the SDK reports them), anything else becomes a finding."""
    try:
        return rule.run(subject, config)
    except UnknownValueError:
        raise
    except Exception as error:  # noqa: BLE001 - malformed input must yield a diagnostic, not a gRPC error
        return [(_malformed(rule, error), "") if rule.stack else _malformed(rule, error)]


def schema(rule: Rule) -> PolicyConfigSchema:
    # Every rule accepts a `reason`: the policy config files say why a level was lowered.
    properties = {"reason": {"type": "string"}}
    properties.update({k: dict(v) for k, v in rule.config.items()})
    return PolicyConfigSchema(properties=properties)


def stack_resources(args: Any) -> list[Resource]:
    return [Resource(r.resource_type, r.name, r.urn, declared(plain(r.props)), bool(getattr(r.opts, "protect", False)))
            for r in args.resources]


def to_policy(rule: Rule):
    common = dict(
        name=rule.name, description=rule.description, config_schema=schema(rule),
        severity=Severity[rule.severity.upper()], remediation_steps=rule.remediation, tags=list(rule.tags),
    )
    if rule.stack:
        def validate_stack(args, report_violation):
            for message, urn in evaluate(rule, stack_resources(args), plain(args.get_config())):
                report_violation(message, urn or None)
        return StackValidationPolicy(validate=validate_stack, **common)

    def validate_resource(args, report_violation):
        if not rule.applies_to(args.resource_type):
            return
        for message in evaluate(rule, plain(args.props), plain(args.get_config())):
            report_violation(message)
    return ResourceValidationPolicy(validate=validate_resource, **common)
