"""One conversion of a resource's properties per request, not one per policy.

pulumi-policy 1.21 (pulumi_policy/policy.py, _PolicyAnalyzerServicer.Analyze and AnalyzeStack)
converts the properties again for every policy: `json_format.MessageToDict`, then
`deserialize_properties`, then `unknown_checking_proxy`, each a full walk of the property bag.
With 79 policies that is 79 walks per resource per Analyze, and one per resource per stack
policy in AnalyzeStack: most of the pack's time went there before any rule ran.

The three results depend only on the message's content, so `install` memoizes them: the
first is keyed by the message object, then by its serialized bytes, the other two by the identity of the value the
step before returned (held by the memo, so an id is never reused while cached). Every policy
stays a separate CrossGuard policy, configured and enforced on its own through the engine's
Configure; the pack still runs under the unmodified SDK. A memoized value is shared by the
policies that read the same message, which is safe because no rule mutates what it reads
(tests/policies/test_sdk_memo.py checks that on every rule's examples).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Callable

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


class ContentMemo:
    """MessageToDict(message) remembered by the message's type and serialized bytes."""

    def __init__(self, fn: Callable[..., Any], size: int = DEFAULT_SIZE) -> None:
        self.fn = fn
        self.cache = _Cache(size)

    def __call__(self, message: Any, **kwargs: Any) -> Any:
        key = (message.DESCRIPTOR.full_name, message.SerializeToString(deterministic=True), tuple(sorted(kwargs.items())))
        entry = self.cache.entries.get(key)
        if entry is not None:
            return entry[1]
        result = self.fn(message, **kwargs)
        self.cache.put(key, None, result)
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


def install(policy_module: Any, size: int = DEFAULT_SIZE) -> dict[str, Any]:
    """Memoize the conversions pulumi_policy.policy makes; returns the memos (for tests and benchmarks).

    Only the names that module looks up at call time are replaced, in its own namespace: the SDK's
    functions themselves, and every other user of them, are left alone.
    """
    json_format = policy_module.json_format
    memos = {
        # By identity first: every policy of one request reads the same message object (upb hands out one
        # wrapper per field), which spares serializing it again; by content when another object is equal.
        "MessageToDict": IdentityMemo(ContentMemo(_message_to_dict(json_format.MessageToDict), size), size),
        "deserialize_properties": IdentityMemo(policy_module.deserialize_properties, size),
        "unknown_checking_proxy": IdentityMemo(policy_module.unknown_checking_proxy, size),
    }
    names = {name: getattr(json_format, name) for name in dir(json_format) if not name.startswith("__")}
    policy_module.json_format = SimpleNamespace(**{**names, "MessageToDict": memos["MessageToDict"]})
    policy_module.deserialize_properties = memos["deserialize_properties"]
    policy_module.unknown_checking_proxy = memos["unknown_checking_proxy"]
    # The resource's options and provider, which the servicer also rebuilds for every policy from the same request.
    servicer = policy_module._PolicyAnalyzerServicer
    for name in ("_get_resource_options", "_get_provider_resource"):
        memos[name] = _by_request(getattr(servicer, name), size)
        setattr(servicer, name, memos[name])
    return memos


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
