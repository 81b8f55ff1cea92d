"""A rule is small data plus a pure check (kube-linter style).

Resource rules look at one resource's inputs; stack rules at all of them. Checks
take plain dicts and return violation messages, so they are tested without a
gRPC server; `policies/__main__.py` wraps each into a pulumi_policy Policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

Props = Mapping[str, Any]


def known(value: Any) -> Any:
    """Use a value a decision hangs on: an engine placeholder for a value unknown until the
    update (policies/rules/engine.py `Unknown`) raises here, so the rule is skipped and
    says which field, instead of mistaking "unknown" for "unset"."""
    require = getattr(value, "require_known", None)
    if require is not None:
        require()
    return value


@dataclass(frozen=True)
class Resource:
    """What a stack rule sees of one resource."""

    type: str
    name: str
    urn: str
    props: Props
    protect: bool = False

    @classmethod
    def of(cls, props: dict, type_: str, protect: bool = False) -> "Resource":
        """A stack-rule input from a plain object (examples and tests)."""
        name = (props.get("metadata") or {}).get("name", "?")
        return cls(type_, name, f"urn:{type_}::{name}", props, protect)


@dataclass(frozen=True)
class Example:
    """A passing and a failing input for the rule's own test (resource: props; stack: resources)."""

    passing: Any
    failing: Any
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    severity: str                              # low | medium | high | critical
    remediation: str
    types: tuple[str, ...]                     # Pulumi type tokens; () for a stack rule
    check: Callable[..., Iterable[Any]]        # resource: (props, config) -> messages; stack: (resources, config) -> (message, urn)
    example: Example
    config: Mapping[str, Any] = field(default_factory=dict)   # parameter -> JSON schema, with defaults
    stack: bool = False
    tags: tuple[str, ...] = ()

    def applies_to(self, type_: str) -> bool:
        """Type tokens match exactly, or by prefix for entries ending in `*` (e.g. `kubernetes:*`)."""
        if type_.startswith("pulumi:providers:"):
            return False
        return any(type_ == t or (t.endswith("*") and type_.startswith(t[:-1])) for t in self.types)

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config.items() if "default" in v}

    def run(self, subject: Any, config: Optional[Mapping[str, Any]] = None) -> list:
        merged = {**self.defaults(), **(config or {})}
        return list(self.check(subject, merged))


def resource_rule(name: str, description: str, severity: str, remediation: str, types: Sequence[str],
                  example: Example, config: Optional[dict] = None, tags: Sequence[str] = ()):
    """Decorator: a pure check `(props, config) -> Iterable[str]` becomes a Rule."""
    def wrap(check: Callable[[Props, Mapping[str, Any]], Iterable[str]]) -> Rule:
        return Rule(name, description, severity, remediation, tuple(sorted(types)), check, example, config or {}, False, tuple(tags))
    return wrap


def stack_rule(name: str, description: str, severity: str, remediation: str, example: Example,
               config: Optional[dict] = None, tags: Sequence[str] = ()):
    """Decorator: `(resources, config) -> Iterable[(message, urn)]` becomes a stack Rule."""
    def wrap(check: Callable[[list[Resource], Mapping[str, Any]], Iterable[tuple[str, str]]]) -> Rule:
        return Rule(name, description, severity, remediation, (), check, example, config or {}, True, tuple(tags))
    return wrap
