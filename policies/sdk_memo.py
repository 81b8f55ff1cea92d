"""The pulumi-policy SDK's per-policy work, done once per request instead of once per policy.

pulumi-policy 1.21 (pulumi_policy/policy.py, _PolicyAnalyzerServicer.Analyze and AnalyzeStack)
loops over every policy for every resource, and for each one converts the properties again:
`json_format.MessageToDict`, then `deserialize_properties`, then `unknown_checking_proxy`, each a
full walk of the property bag. With 79 policies that is 79 walks per resource per Analyze, and one
per resource per stack policy in AnalyzeStack: most of the pack's time went there before any rule ran.

`install` memoizes what depends only on the message: the conversion by the message object (upb
hands out one wrapper per field, so every policy of a request reads the same object), the SDK's
deserialization by the identity of the value it is given (held by the memo, so an id is never
reused while cached), the options per request and the provider by its content. And it walks each
bag once instead of three times: every policy of this pack reads its properties through `plain()`
(policies/__main__.py), so during an analysis the conversion returns what plain() would make of the
deserialized properties (secrets unwrapped, whole numbers as ints, each unknown a value that fails
the one check that uses it), the deserialization passes it through, and the unknown-checking
proxy, which only raises when a policy reads an unknown, is left out.

`by_resource_type` spares the loop itself: during an Analyze the servicer's policy list yields only
the resource policies whose types the request's type matches. A policy it leaves out would have
returned at once (`validate_resource` asks `rule.applies_to` first), so the responses are the same.

Every policy stays a separate CrossGuard policy, configured and enforced on its own through the
engine's Configure (the SDK still reads each one's level and config). A memoized value is shared by
the policies that read the same message, which is safe because no rule mutates what it reads
(tests/policies/test_sdk_memo.py checks that on every rule's examples, and that the pack answers
the same with and without all of this).
"""

from __future__ import annotations

import importlib.metadata
import math
import sys
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

# The pulumi-policy releases whose internals this module was read against and tested with
# (pulumi_policy/policy.py: the module-level json_format and deserialize_properties names,
# _PolicyAnalyzerServicer and its private __policies). On any other release the pack runs the
# plain SDK path: correct, slower.
VERIFIED_SDK_VERSIONS = frozenset({"1.21.0"})


def sdk_version() -> str:
    return importlib.metadata.version("pulumi-policy")


def fast_paths_apply(version: str | None = None) -> bool:
    """Whether this pulumi-policy is one the fast paths were verified against; says why not once."""
    version = version or sdk_version()
    if version in VERIFIED_SDK_VERSIONS:
        return True
    print(
        f"sdk_memo: pulumi-policy {version} is not one of {sorted(VERIFIED_SDK_VERSIONS)}: "
        "the pack runs the plain SDK path",
        file=sys.stderr,
    )
    return False


# Enough for the AnalyzeStack of a stack of ~600 services: its stack policies walk every resource in
# turn, and a cache smaller than the resource count would miss on every one of them.
DEFAULT_SIZE = 8192


class _Cache:
    """A bounded dict, oldest entry out first. No lock: the SDK serves gRPC calls on a pool of threads,
    but each dict operation is atomic under the GIL, and a race costs at most one conversion made twice
    (the values are pure functions of their keys)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: dict[Any, tuple[Any, Any]] = {}

    def put(self, key: Any, anchor: Any, value: Any) -> None:
        if len(self.entries) >= self.size:
            try:
                del self.entries[next(iter(self.entries))]
            except (StopIteration, KeyError, RuntimeError):  # another thread got there first
                pass
        self.entries[key] = (anchor, value)


class IdentityMemo:
    """fn(value, *args) remembered for the very object `value` (not an equal one)."""

    def __init__(self, fn: Callable[..., Any], size: int = DEFAULT_SIZE) -> None:
        self.fn = fn
        self.cache = _Cache(size)

    def __call__(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        key = (id(value), args, tuple(sorted(kwargs.items()))) if args or kwargs else id(value)
        entry = self.cache.entries.get(key)
        if entry is not None and entry[0] is value:
            return entry[1]
        result = self.fn(value, *args, **kwargs)
        self.cache.put(key, value, result)
        return result


def struct_to_dict(struct: Any) -> dict[str, Any]:
    """json_format.MessageToDict for a google.protobuf.Struct, the same values without its generic
    per-field dispatch (protobuf python/google/protobuf/json_format.py, _StructMessageToJsonObject and
    _ValueMessageToJsonObject: a number stays a float, NaN and Infinity are refused, unset is None)."""
    return {key: _value(value) for key, value in struct.fields.items()}


def _value(value: Any) -> Any:
    which = value.WhichOneof("kind")
    if which == "string_value":
        return value.string_value
    if which == "struct_value":
        return {key: _value(v) for key, v in value.struct_value.fields.items()}
    if which == "list_value":
        return [_value(v) for v in value.list_value.values]
    if which == "number_value":
        number = value.number_value
        if math.isinf(number) or math.isnan(number):
            raise ValueError(f"Fail to serialize {number} for Value.number_value, which would parse as string_value")
        return number
    if which == "bool_value":
        return value.bool_value
    return None


def _message_to_dict(message_to_dict: Callable[..., Any]) -> Callable[..., Any]:
    def convert(message: Any, **kwargs: Any) -> Any:
        if not kwargs and message.DESCRIPTOR.full_name == "google.protobuf.Struct":
            return struct_to_dict(message)
        return message_to_dict(message, **kwargs)

    return convert


class NotPlain(Exception):
    """Raised by a `convert` function for a bag it leaves to the SDK (an asset or archive inside)."""


def install(
    policy_module: Any, size: int = DEFAULT_SIZE, convert: Callable[[Any], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Memoize the conversions pulumi_policy.policy makes; returns the memos (for tests and benchmarks).

    `convert(struct)`, when given, is what the pack's policies make of a Struct of properties in the
    end (plain(), in one walk instead of three): during Analyze and AnalyzeStack the SDK's
    conversion returns it, and the SDK's deserialization passes it through (`memos["converted"]`
    tells such a value). Elsewhere (Configure's policy config, Remediate, which keeps secrets
    wrapped) and for what it raises NotPlain on, the SDK's own conversions run.

    Only the names that module looks up at call time are replaced, in its own namespace: the SDK's
    functions themselves, and every other user of them, are left alone.
    """
    if not fast_paths_apply():
        return {"converted": lambda value: False}
    json_format = policy_module.json_format
    to_dict = _message_to_dict(json_format.MessageToDict)
    analyzing = threading.local()  # set while this thread serves an Analyze or AnalyzeStack
    converted = _Cache(size)  # id -> the value convert() returned, for values the SDK hands on

    def message_to_dict(message: Any, **kwargs: Any) -> Any:
        if (
            convert is not None
            and not kwargs
            and getattr(analyzing, "on", False)
            and message.DESCRIPTOR.full_name == "google.protobuf.Struct"
        ):
            try:
                value = convert(message)
            except NotPlain:
                return to_dict(message)
            converted.put(id(value), value, value)
            return value
        return to_dict(message, **kwargs)

    sdk_deserialize = IdentityMemo(policy_module.deserialize_properties, size)

    def deserialize_properties(props: Any, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs and is_converted(props):
            return props
        return sdk_deserialize(props, *args, **kwargs)

    def is_converted(value: Any) -> bool:
        entry = converted.entries.get(id(value))
        return entry is not None and entry[0] is value

    # Keyed by the message and the mode: the same Struct converts differently outside an analysis.
    by_mode = IdentityMemo(lambda message, on: message_to_dict(message), size)

    def memoized_to_dict(message: Any, **kwargs: Any) -> Any:
        return message_to_dict(message, **kwargs) if kwargs else by_mode(message, getattr(analyzing, "on", False))

    memos: dict[str, Any] = {
        "MessageToDict": memoized_to_dict,
        "deserialize_properties": sdk_deserialize,
        "converted": is_converted,
    }
    names = {name: getattr(json_format, name) for name in dir(json_format) if not name.startswith("__")}
    policy_module.json_format = SimpleNamespace(**{**names, "MessageToDict": memos["MessageToDict"]})
    policy_module.deserialize_properties = deserialize_properties
    policy_module.unknown_checking_proxy = unproxied
    # The resource's options and provider, which the servicer also rebuilds for every policy from the same request.
    servicer = policy_module._PolicyAnalyzerServicer
    memos["_get_resource_options"] = _by_request(servicer._get_resource_options, size)
    # Per request first (every policy of a request asks), then by content (every request names the same provider).
    memos["_get_provider_resource"] = _by_request(_by_provider(servicer._get_provider_resource, size), size)
    servicer._get_resource_options = memos["_get_resource_options"]
    servicer._get_provider_resource = memos["_get_provider_resource"]
    for name in ("Analyze", "AnalyzeStack"):
        setattr(servicer, name, _flagged(getattr(servicer, name), analyzing))
    return memos


def _flagged(method: Callable[..., Any], flag: Any) -> Callable[..., Any]:
    def serve(self: Any, request: Any, context: Any) -> Any:
        flag.on = True
        try:
            return method(self, request, context)
        finally:
            flag.on = False

    serve.__name__ = method.__name__
    return serve


def unproxied(props: Any) -> Any:
    """What the SDK hands a policy as `args.props` here: the deserialized properties themselves
    (see the module's docstring: plain() does per field what the proxy does)."""
    return props


def _by_request(method: Callable[[Any, Any], Any], size: int) -> Callable[[Any, Any], Any]:
    cache = _Cache(size)

    def memoized(self: Any, request: Any) -> Any:  # remembered for this request object
        entry = cache.entries.get(id(request))
        if entry is not None and entry[0] is request:
            return entry[1]
        result = method(self, request)
        cache.put(id(request), request, result)
        return result

    memoized.cache = cache  # type: ignore[attr-defined]
    return memoized


def _by_provider(method: Callable[[Any, Any], Any], size: int) -> Callable[[Any, Any], Any]:
    """The provider resource, remembered by the provider's content: every request names the same few
    providers, each with its own copy of the provider's properties (small: the provider's config)."""
    cache = _Cache(size)

    def memoized(self: Any, request: Any) -> Any:
        if not request.HasField("provider"):
            return method(self, request)
        key = request.provider.SerializeToString(deterministic=True)
        entry = cache.entries.get(key)
        if entry is not None:
            return entry[1]
        result = method(self, request)
        cache.put(key, None, result)
        return result

    memoized.cache = cache  # type: ignore[attr-defined]
    return memoized


class PoliciesByType(list):
    """The servicer's list of policies. Iterated during an Analyze (the thread's request type set by
    `by_resource_type`), it yields the resource policies that `applies(policy, type)` admits;
    otherwise (GetAnalyzerInfo, Configure, AnalyzeStack) every policy. The SDK serves calls on a pool
    of threads, so the type is per thread."""

    def __init__(self, policies: list[Any], applies: Callable[[Any, str], bool]) -> None:
        super().__init__(policies)
        self.applies = applies
        self.current = threading.local()
        self.selected: dict[str, list[Any]] = {}

    def __iter__(self):
        type_ = getattr(self.current, "type", None)
        if type_ is None:
            return super().__iter__()
        selected = self.selected.get(type_)
        if selected is None:
            selected = self.selected[type_] = [p for p in super().__iter__() if self.applies(p, type_)]
        return iter(selected)


def by_resource_type(policy_module: Any, applies: Callable[[Any, str], bool]) -> None:
    """Make every servicer created from now on loop, in Analyze, over the policies that apply to the
    request's resource type only. `applies(policy, type)` must be False only for a policy whose
    validate does nothing for that type."""
    if sdk_version() not in VERIFIED_SDK_VERSIONS:  # install() said so already
        return
    servicer = policy_module._PolicyAnalyzerServicer
    initialize, analyze = servicer.__init__, servicer.Analyze

    def __init__(self: Any, name: str, version: str, policies: list[Any], *args: Any, **kwargs: Any) -> None:  # noqa: N807 - installed as the servicer's __init__
        initialize(self, name, version, PoliciesByType(policies, applies), *args, **kwargs)

    def Analyze(self: Any, request: Any, context: Any) -> Any:  # noqa: N802 - the gRPC method's name
        policies = self._PolicyAnalyzerServicer__policies
        if not isinstance(policies, PoliciesByType):
            return analyze(self, request, context)
        policies.current.type = request.type
        try:
            return analyze(self, request, context)
        finally:
            policies.current.type = None

    servicer.__init__, servicer.Analyze = __init__, Analyze


# This module as a pack without its fast paths would have it: the SDK's own work, once per policy.
# baseline_copy() writes it into a copy of the pack (the tests compare answers, the benchmark times).
BASELINE_MODULE = '''"""No fast paths: the pulumi-policy SDK as it is (see the original sdk_memo.py)."""


class IdentityMemo:
    def __init__(self, fn, size=0):
        self.fn = fn

    def __call__(self, value, *args, **kwargs):
        return self.fn(value, *args, **kwargs)


class NotPlain(Exception):
    pass


def install(policy_module, size=0, convert=None):
    return {"converted": lambda value: False}


def by_resource_type(policy_module, applies):
    pass
'''


def baseline_copy(pack_dir: Any, dest: Any) -> Any:
    """A copy of the pack at `pack_dir` under `dest`/policies whose sdk_memo changes nothing."""
    import shutil
    from pathlib import Path

    copy = Path(dest) / "policies"
    shutil.copytree(pack_dir, copy, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "sdk_memo.py").write_text(BASELINE_MODULE)
    return copy
