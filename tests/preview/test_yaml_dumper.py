"""preview/yaml_dumper.py writes exactly what PyYAML's own safe dumper writes."""

from __future__ import annotations

import pytest
import yaml

from preview.render import dump_yaml, manifests
from preview.yaml_dumper import BASE, FastSafeDumper
from tests.conftest import ROOT, shipped

STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))  # every shipped stack

SHARED = {"app": "api"}
AWKWARD = {
    "quoted": ["", "yes", "No", "on", "null", "~", "123", "0o17", "0x1f", "1e3", "-.inf", ".nan", "2026-12-07"],
    "times": ["12:30", "1_000", "+1", "0b11"],
    "marks": [": x", "- x", "#x", "x #y", "&a", "*a", "!t", "%x", "@x", "`x", "'x'", '"x"', "{x}", "[x]", "x,y", "?"],
    "space": [" lead", "trail ", "two\nlines", "tab\there", "line\n", "\u00e9t\u00e9", "\u2603", "x" * 300, "a " * 80],
    "numbers": [0, -1, 2**70, 0.5, -0.0, 1e300, 1.0e-7, float("inf"), float("-inf"), True, False, None],
    "nested": {"empty": {}, "none": [], "deep": [[{"k": [1, {"k": None}]}]], 1: "int key", None: "null key"},
    "shared": [SHARED, SHARED, {"inner": SHARED}],  # one object met three times: an anchor and aliases
}


def stock(obj, **kwargs):
    return yaml.dump(obj, Dumper=BASE, sort_keys=False, default_flow_style=False, width=120, **kwargs)


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_manifest_is_written_byte_for_byte_as_before(stack):
    for m in manifests(shipped(stack)):
        assert dump_yaml(m.obj) == stock(m.obj), m.file


@pytest.mark.parametrize("options", [{}, {"sort_keys": True}, {"default_flow_style": None}, {"width": 40}])
def test_awkward_values_are_quoted_and_shaped_as_pyyaml_does(options):
    kwargs = {"sort_keys": False, "default_flow_style": False, "width": 120, **options}
    fast = yaml.dump(AWKWARD, Dumper=FastSafeDumper, **kwargs)
    assert fast == yaml.dump(AWKWARD, Dumper=BASE, **kwargs)
    assert "&id001" in fast and "*id001" in fast
    assert yaml.safe_load(fast)["quoted"] == AWKWARD["quoted"]


def test_a_type_pyyaml_refuses_is_refused_the_same_way():
    with pytest.raises(yaml.representer.RepresenterError):
        yaml.dump({"x": object()}, Dumper=FastSafeDumper)
