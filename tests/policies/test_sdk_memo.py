"""The pack's memo of the pulumi-policy SDK's conversions (policies/sdk_memo.py).

The memo is only sound if (1) its Struct conversion gives what json_format.MessageToDict gives,
(2) a memoized value is handed back for the same message and never for a different one, and
(3) no rule mutates what it reads, since the policies that read one message share one value.
"""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import pytest
from google.protobuf import json_format, struct_pb2

from policies.rules import ALL_RULES
from policies.sdk_memo import IdentityMemo, install, struct_to_dict

SAMPLES = [
    {},
    {"a": 1, "b": 1.5, "c": -0.0, "d": 1e300, "e": True, "f": False, "g": None, "h": "", "i": "ünïcode ✓"},
    {"nested": {"deeper": {"list": [1, "two", None, [3, {"four": 4}], {}], "empty": []}}},
    {"spec": {"template": {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 8000}]}]}}}},
]


def struct(value: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


@pytest.mark.parametrize("value", SAMPLES)
def test_struct_conversion_matches_message_to_dict(value):
    message = struct(value)
    assert struct_to_dict(message) == json_format.MessageToDict(message)
    # Same types too (the rules tell 1.0 from True, and a float stays a float as MessageToDict leaves it).
    assert repr(struct_to_dict(message)) == repr(json_format.MessageToDict(message))


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_struct_conversion_refuses_what_message_to_dict_refuses(bad):
    message = struct({"x": 1})
    message.fields["x"].number_value = bad
    with pytest.raises(ValueError):
        json_format.MessageToDict(message)
    with pytest.raises(ValueError):
        struct_to_dict(message)


class FakeServicer:
    """Stands in for pulumi_policy's _PolicyAnalyzerServicer: the two methods install() memoizes."""

    calls = 0

    def _get_resource_options(self, request):
        FakeServicer.calls += 1
        return ("options", request.name)

    def _get_provider_resource(self, request):
        FakeServicer.calls += 1
        return ("provider", request.name)


def fake_sdk():
    counts = {"MessageToDict": 0, "deserialize_properties": 0, "unknown_checking_proxy": 0}

    def counting(name, fn):
        def wrapped(*args, **kwargs):
            counts[name] += 1
            return fn(*args, **kwargs)
        return wrapped
    module = SimpleNamespace(
        json_format=SimpleNamespace(MessageToDict=counting("MessageToDict", json_format.MessageToDict),
                                    ParseDict=json_format.ParseDict),
        deserialize_properties=counting("deserialize_properties", lambda props, keep=False: dict(props)),
        unknown_checking_proxy=counting("unknown_checking_proxy", lambda props: ("proxy", props)),
        _PolicyAnalyzerServicer=type("Servicer", (FakeServicer,), {}))
    return module, counts


def convert(module, message):
    """What the SDK does for each policy (pulumi_policy/policy.py, Analyze)."""
    return module.unknown_checking_proxy(module.deserialize_properties(module.json_format.MessageToDict(message)))


def test_one_conversion_per_message_however_many_policies_read_it():
    module, counts = fake_sdk()
    install(module)
    message = struct(SAMPLES[3])
    results = [convert(module, message) for _ in range(79)]
    assert all(r is results[0] for r in results)
    assert counts == {"MessageToDict": 0, "deserialize_properties": 1, "unknown_checking_proxy": 1}  # struct fast path
    assert results[0] == ("proxy", json_format.MessageToDict(message))


def test_equal_messages_share_and_different_ones_do_not():
    module, _ = fake_sdk()
    install(module)
    first, equal, other = struct({"a": 1}), struct({"a": 1}), struct({"a": 2})
    assert convert(module, equal) is convert(module, first)
    assert convert(module, other) is not convert(module, first)
    assert convert(module, other)[1] == {"a": 2.0}


def test_other_messages_and_options_still_reach_the_sdk():
    module, counts = fake_sdk()
    install(module)
    value = struct_pb2.Value(string_value="x")
    assert module.json_format.MessageToDict(value) == "x"
    assert counts["MessageToDict"] == 1
    assert module.json_format.MessageToDict(struct({"a_b": 1}), preserving_proto_field_name=True) == {"a_b": 1}
    assert module.json_format.ParseDict is json_format.ParseDict  # the rest of json_format is untouched


def test_options_and_provider_are_built_once_per_request():
    module, _ = fake_sdk()
    install(module)
    servicer = module._PolicyAnalyzerServicer()
    request, other = SimpleNamespace(name="a"), SimpleNamespace(name="b")
    FakeServicer.calls = 0
    for _ in range(79):
        assert servicer._get_resource_options(request) == ("options", "a")
        assert servicer._get_provider_resource(request) == ("provider", "a")
    assert servicer._get_provider_resource(other) == ("provider", "b")
    assert FakeServicer.calls == 3


def test_the_memo_is_bounded_and_never_confuses_a_reused_id():
    seen = []
    memo = IdentityMemo(lambda v: seen.append(v) or len(seen), size=2)
    a, b, c = [1], [2], [3]
    assert (memo(a), memo(a), memo(b), memo(c)) == (1, 1, 2, 3)
    assert len(memo.cache.entries) == 2
    assert memo(a) == 4  # evicted (oldest first), so converted again
    # An entry is returned only for the very object it was made for, not for another with its id.
    key = id(a)
    memo.cache.entries[key] = ([0], "stale")
    assert memo(a) == 5


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.name)
def test_no_rule_mutates_what_it_reads(rule):
    for subject in (rule.example.passing, rule.example.failing):
        before = copy.deepcopy(subject)
        config = copy.deepcopy(dict(rule.example.config))
        rule.evaluate(subject, config)
        assert subject == before
        assert config == dict(rule.example.config)
