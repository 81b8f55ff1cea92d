"""PyYAML's safe dumper (libyaml's emitter) with its per-value Python work done once.

A 100-service render dumps 1,428 manifests, about 1.4*10^5 values; most of the dump went to PyYAML's
generic Python layer around the C emitter, not to the emitter: for every value the representer's
dispatch (`BaseRepresenter.represent_data`: the alias bookkeeping, the type's MRO, a table lookup),
and for every scalar two calls of the resolver (`BaseResolver.resolve`: the implicit-tag regexes, which
decide whether a string must be quoted), the same strings again and again (`name`, `app.kubernetes.io/...`).

`FastSafeDumper` builds the very nodes SafeRepresenter builds, for the plain types a manifest holds
(dict, list, str, int, float, bool, None; anything else takes PyYAML's own path), keeps its alias
bookkeeping (an object met twice is one node, so anchors come out as they did), and remembers the
resolver's answers by (kind, value, implicit). The emitter is untouched: the same nodes give the same
bytes (tests/preview/test_yaml_dumper.py compares every shipped render with the stock dumper's).
Read against PyYAML 6.0.3: yaml/representer.py (represent_data, represent_mapping,
represent_sequence, SafeRepresenter.ignore_aliases and the represent_* of each type),
yaml/resolver.py (BaseResolver.resolve).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

BASE = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

STR, INT, FLOAT, BOOL, NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))
MAP, SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class FastSafeDumper(BASE):  # type: ignore[misc, valid-type]
    """CSafeDumper (SafeDumper without libyaml), with the same output."""

    _resolved: dict[tuple[str, Any], str] = {}  # class-wide: the resolver's tables are the class's

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        # A scalar's tag is a function of its value alone unless path resolvers are set (none are).
        if kind is not ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            tag = self._resolved[key] = super().resolve(kind, value, implicit)
        return tag

    def represent_data(self, data: Any) -> Any:
        kind = type(data)
        if kind is str:
            return ScalarNode(STR, data, style=self.default_style)
        if kind is dict or kind is list:
            # SafeRepresenter.ignore_aliases is False for both: one node per object.
            key = id(data)
            node = self.represented_objects.get(key)
            if node is not None:
                return node
            self.object_keeper.append(data)
            return self._mapping(data, key) if kind is dict else self._sequence(data, key)
        if kind is bool:
            return ScalarNode(BOOL, "true" if data else "false", style=self.default_style)
        if kind is int:
            return ScalarNode(INT, str(data), style=self.default_style)
        if data is None:
            return ScalarNode(NULL, "null", style=self.default_style)
        return super().represent_data(data)  # floats and anything else: PyYAML's own path

    def _flow_style(self, best: bool) -> bool:
        return self.default_flow_style if self.default_flow_style is not None else best

    def _mapping(self, data: dict, key: int) -> MappingNode:
        value: list[tuple[Any, Any]] = []
        node = MappingNode(MAP, value, flow_style=None)
        self.represented_objects[key] = node
        items = list(data.items())
        if self.sort_keys:
            try:
                items = sorted(items)
            except TypeError:
                pass
        best = True
        for item_key, item_value in items:
            node_key = self.represent_data(item_key)
            node_value = self.represent_data(item_value)
            if not (isinstance(node_key, ScalarNode) and not node_key.style):
                best = False
            if not (isinstance(node_value, ScalarNode) and not node_value.style):
                best = False
            value.append((node_key, node_value))
        node.flow_style = self._flow_style(best)
        return node

    def _sequence(self, data: list, key: int) -> SequenceNode:
        value: list[Any] = []
        node = SequenceNode(SEQ, value, flow_style=None)
        self.represented_objects[key] = node
        best = True
        for item in data:
            node_item = self.represent_data(item)
            if not (isinstance(node_item, ScalarNode) and not node_item.style):
                best = False
            value.append(node_item)
        node.flow_style = self._flow_style(best)
        return node
