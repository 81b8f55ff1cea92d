"""The agent-platform CrossGuard policy pack.

`pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json`
runs it; so does the offline preview, through the same analyzer gRPC protocol.
Constructing the PolicyPack starts the analyzer server and blocks, so only this
file does it; the rules live in importable modules (policies/rules/).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence  # not typing's aliases: their isinstance is several times slower
from typing import Any

# The engine runs `python -u -m pulumi.policy ENGINE PACKDIR` with cwd PACKDIR, and runpy puts PACKDIR
# first on sys.path (pulumi/pulumi sdk/python/lib/pulumi/policy/__main__.py): `rules` is importable
# from a copy of the pack under any directory name. The rules use relative imports, so the tests
# import the same modules as `policies.rules`.
import pulumi_policy.policy
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError
from rules import ALL_RULES, RULES_BY_NAME
from rules.base import Resource, Rule, Unknown
from sdk_memo import IdentityMemo, NotPlain, by_resource_type, install

# pulumi_policy/proxy.py: the sentinels an unknown value arrives as (pulumi.runtime.rpc.UNKNOWN is the string one).
UNKNOWN_SENTINELS = frozenset(
    {
        UNKNOWN_STRING_VALUE,
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)
SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")  # pulumi sdk rpc.py


def plain(value: Any, path: tuple | None = None) -> Any:
    """The engine's property proxies as plain dicts and lists, as the pure checks expect.

    Reads through pulumi_policy's unknown-checking proxy (its `__target`) instead of raising on the
    first unknown: each unknown becomes an `Unknown` naming its path, which raises only if a check uses it.
    The path is kept as (parent, key) pairs and spelled out only for an unknown: this walk runs over
    every property of every resource.
    """
    kind = type(value)
    if kind is str:
        return Unknown(_dotted(path)) if value in UNKNOWN_SENTINELS else value
    if kind is float:
        return int(value) if value.is_integer() else value  # the wire (protobuf Struct) carries numbers as doubles
    if kind is int or kind is bool or value is None:
        return value
    if isinstance(value, Mapping):
        target = value["__target"] if _is_proxy(value) else value
        if target.get(SECRET_SIG[0]) == SECRET_SIG[1] and "value" in target:  # a secret-wrapped value (e.g. __inputs)
            return plain(target["value"], path)
        return {k: plain(v, (path, k)) for k, v in target.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        target = value["__target"] if _is_proxy(value) else value
        return [plain(v, (path, i)) for i, v in enumerate(target)]
    if isinstance(value, str) and value in UNKNOWN_SENTINELS:
        return Unknown(_dotted(path))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


SIG_KEY = SECRET_SIG[0]


def plain_struct(struct: Any) -> dict[str, Any]:
    """plain(deserialize_properties(MessageToDict(struct))) in one walk of the protobuf Struct (the
    SDK's three steps: pulumi_policy/policy.py Analyze; json_format's Struct conversion refuses NaN
    and Infinity, deserialize unwraps secrets). A bag holding an asset or archive, or a malformed
    secret, raises NotPlain: the SDK's own steps handle it, as they would without this."""
    fields = struct.fields
    return {key: _plain_value(fields[key], None, key) for key in fields}


def _plain_value(value: Any, parent: tuple | None, key: Any) -> Any:
    # The path is (parent, key) pairs, built only where the walk goes deeper or meets an unknown.
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        text = value.string_value
        return Unknown(_dotted((parent, key))) if text in UNKNOWN_SENTINELS else text
    if kind == "struct_value":
        fields = value.struct_value.fields
        if SIG_KEY in fields:
            if fields[SIG_KEY].string_value == SECRET_SIG[1] and "value" in fields:
                return _plain_value(fields["value"], parent, key)
            raise NotPlain(_dotted((parent, key)))
        here = (parent, key)
        return {k: _plain_value(fields[k], here, k) for k in fields}
    if kind == "list_value":
        here = (parent, key)
        return [_plain_value(v, here, i) for i, v in enumerate(value.list_value.values)]
    if kind == "number_value":
        number = value.number_value
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"Fail to serialize {number} for Value.number_value, which would parse as string_value")
        return int(number) if number.is_integer() else number
    if kind == "bool_value":
        return value.bool_value
    return None


def _dotted(path: tuple | None) -> str:
    keys = []
    while path is not None:
        path, key = path
        keys.append(str(key))
    return ".".join(reversed(keys)) or "(root)"


def _is_proxy(value: Any) -> bool:
    return type(value).__module__ == "pulumi_policy.proxy"


def program_props(props: Any) -> Any:
    """What the program set, for a stack rule. AnalyzeStack gets outputs (the live object); pulumi-kubernetes
    4.x adds the inputs under `__inputs` (pulumi/pulumi-kubernetes provider/pkg/provider/provider.go,
    checkpointObject: a plain object; pulumi-docker's checkpointObject wraps it with MakeSecret, which
    plain() unwraps): judge those, not API-server defaults such as spec.replicas."""
    if isinstance(props, dict) and isinstance(props.get("__inputs"), dict):
        return props["__inputs"]
    return props


# The SDK's conversions, once per message (sdk_memo); and plain() once per converted bag, for the same reason.
SDK_MEMOS = install(pulumi_policy.policy, convert=plain_struct)


def applies(policy, type_: str) -> bool:
    """Whether an Analyze of `type_` needs `policy`: validate_resource returns at once for a rule that
    does not apply to the type (and the SDK skips stack policies in Analyze)."""
    rule = RULES_BY_NAME.get(policy.name)
    return rule is None or (not rule.stack and rule.applies_to(type_))


by_resource_type(pulumi_policy.policy, applies)
_plain_props = IdentityMemo(plain)


def plain_props(props: Any) -> Any:
    """The properties as the checks read them: plain_struct's value already is."""
    return props if SDK_MEMOS["converted"](props) else _plain_props(props)


# Not memoized: the SDK hands every call a fresh copy of the policy's config (_get_policy_config), so a
# memo by identity could never hit; the config is a few keys.
plain_config = plain


def report(outcome, policy_name: str, report_violation, stack: bool) -> None:
    for message in outcome.messages:
        if stack:
            text, urn = message
            report_violation(text, urn or None)
        else:
            report_violation(message)
    if outcome.unknown:
        # pulumi_policy turns this into an ADVISORY "can't run policy ... during preview: <field> ..." diagnostic,
        # after the violations already reported above, which keep their own enforcement level.
        raise UnknownValueError(UNKNOWN_STRING_VALUE, outcome.unknown.split("."))


def schema(rule: Rule) -> PolicyConfigSchema:
    # Every rule accepts a `reason`: the policy config files say why a level was lowered.
    properties = {"reason": {"type": "string"}}
    properties.update({k: dict(v) for k, v in rule.config.items()})
    return PolicyConfigSchema(properties=properties)


def to_policy(rule: Rule):
    common = dict(
        name=rule.name,
        description=rule.description,
        config_schema=schema(rule),
        severity=Severity[rule.severity.upper()],
        remediation_steps=rule.remediation,
        tags=list(rule.tags),
    )
    if rule.stack:

        def validate_stack(args, report_violation):
            resources = [
                Resource(r.resource_type, r.name, r.urn, program_props(plain_props(r.props)), bool(r.opts.protect))
                for r in args.resources
            ]
            report(rule.evaluate(resources, plain_config(args.get_config())), rule.name, report_violation, stack=True)

        return StackValidationPolicy(validate=validate_stack, **common)

    def validate_resource(args, report_violation):
        if not rule.applies_to(args.resource_type):
            return
        report(
            rule.evaluate(plain_props(args.props), plain_config(args.get_config())),
            rule.name,
            report_violation,
            stack=False,
        )

    return ResourceValidationPolicy(validate=validate_resource, **common)


def tune_collector() -> None:
    """Python's cyclic collector, for a process that answers bursts of requests: what the imports made
    (the SDK, the rules) is frozen out of its scans (gc.freeze), and it runs after 50,000 allocations
    instead of 700. An AnalyzeStack turns every resource's properties into dicts at once; with the
    defaults, collections over the growing heap took about a tenth of the pack's time (the preview
    phase of 100 services, 1.9-2.8 -> 1.7-1.8 CPU s). Cycles are still collected."""
    import gc

    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


if __name__ == "__main__":
    tune_collector()
    PolicyPack(
        name="agent-platform",
        policies=[to_policy(rule) for rule in ALL_RULES],
        enforcement_level=EnforcementLevel.MANDATORY,
    )
