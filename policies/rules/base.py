"""A rule is small data plus a pure check (kube-linter style).

Resource rules look at one resource's inputs; stack rules at all of them. Checks
take plain dicts and return violation messages, so they are tested without a
gRPC server; `policies/__main__.py` wraps each into a pulumi_policy Policy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Props = Mapping[str, Any]


class UnknownField(Exception):
    """A check touched a value the engine does not know yet (preview): it cannot judge, and says which field."""

    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


class Unknown:
    """A preview-time unknown (the engine's sentinel strings, pulumi_policy/proxy.py UNKNOWN_*_VALUE).

    Any use of it by a check (truth, comparison, iteration, lookup, str) raises UnknownField, so a
    rule skips only when a field it needs is unknown; fields it never reads don't matter.
    """

    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path

    def _raise(self, *args: Any, **kwargs: Any) -> Any:
        raise UnknownField(self.path)

    __bool__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __iter__ = __len__ = _raise
    __contains__ = __getitem__ = __str__ = __int__ = __float__ = __index__ = __add__ = _raise
    __hash__ = None  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:  # any method a check calls (.get, .split, .rpartition...)
        if name.startswith("__"):
            raise AttributeError(name)
        raise UnknownField(self.path)

    def __repr__(self) -> str:
        return f"<unknown {self.path}>"


@dataclass(frozen=True)
class Resource:
    """What a stack rule sees of one resource."""

    type: str
    name: str
    urn: str
    props: Props
    protect: bool = False

    @classmethod
    def of(cls, props: dict, type_: str, protect: bool = False) -> Resource:
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
    severity: str  # low | medium | high | critical
    remediation: str
    types: tuple[str, ...]  # Pulumi type tokens; () for a stack rule
    check: Callable[
        ..., Iterable[Any]
    ]  # resource: (props, config) -> messages; stack: (resources, config) -> (message, urn)
    example: Example
    config: Mapping[str, Any] = field(default_factory=dict)  # parameter -> JSON schema, with defaults
    stack: bool = False
    tags: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()  # a stack rule's Pulumi type tokens: the kinds it judges (docs/policy-coverage.md)

    def kinds(self) -> tuple[str, ...]:
        """The exact type tokens this rule judges (prefix entries such as `kubernetes:*` name no kind)."""
        return tuple(t for t in (*self.types, *self.reads) if not t.endswith("*"))

    def applies_to(self, type_: str) -> bool:
        """Type tokens match exactly, or by prefix for entries ending in `*` (e.g. `kubernetes:*`)."""
        return _type_matches(self.types, type_)

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config.items() if "default" in v}

    def run(self, subject: Any, config: Mapping[str, Any] | None = None) -> list:
        """Violations; raises UnknownField (after nothing) if an unknown was needed. Use `evaluate` to keep both."""
        outcome = self.evaluate(subject, config)
        if outcome.unknown and not outcome.messages:
            raise UnknownField(outcome.unknown)
        return outcome.messages

    def evaluate(self, subject: Any, config: Mapping[str, Any] | None = None) -> Outcome:
        """Run the check, never raising: violations found before an unknown field are kept (a privileged
        container stays a violation when an annotation is unknown); malformed input is itself a finding."""
        merged = {**self.defaults(), **(config or {})}
        messages: list = []
        try:
            for message in self.check(subject, merged):
                messages.append(message)
        except UnknownField as unknown:
            return Outcome(messages, unknown.path)
        except RecursionError:
            messages.append(self._malformed("nesting too deep"))
        except Exception as error:  # noqa: BLE001 - malformed properties of any shape must not crash the analyzer
            messages.append(self._malformed(f"{type(error).__name__}: {error}"[:200]))
        return Outcome(messages, None)

    def _malformed(self, why: str) -> Any:
        text = f"malformed properties, cannot check ({why}); fix the resource's shape"
        return (text, None) if self.stack else text


@dataclass
class Outcome:
    messages: list
    unknown: str | None  # path of the unknown field that stopped the check, if any


def resource_rule(
    name: str,
    description: str,
    severity: str,
    remediation: str,
    types: Sequence[str],
    example: Example,
    config: dict | None = None,
    tags: Sequence[str] = (),
):
    """Decorator: a pure check `(props, config) -> Iterable[str]` becomes a Rule."""

    def wrap(check: Callable[[Props, Mapping[str, Any]], Iterable[str]]) -> Rule:
        return Rule(
            name,
            description,
            severity,
            remediation,
            tuple(sorted(types)),
            check,
            example,
            config or {},
            False,
            tuple(tags),
        )

    return wrap


def stack_rule(
    name: str,
    description: str,
    severity: str,
    remediation: str,
    example: Example,
    config: dict | None = None,
    tags: Sequence[str] = (),
    reads: Sequence[str] = (),
):
    """Decorator: `(resources, config) -> Iterable[(message, urn)]` becomes a stack Rule; `reads` names the
    types it judges."""

    def wrap(check: Callable[[list[Resource], Mapping[str, Any]], Iterable[tuple[str, str]]]) -> Rule:
        return Rule(
            name,
            description,
            severity,
            remediation,
            (),
            check,
            example,
            config or {},
            True,
            tuple(tags),
            tuple(sorted(reads)),
        )

    return wrap


@functools.lru_cache(maxsize=4096)  # asked for every resource by every rule: a few dozen distinct answers
def _type_matches(types: tuple[str, ...], type_: str) -> bool:
    if type_.startswith("pulumi:providers:"):
        return False
    return any(type_ == t or (t.endswith("*") and type_.startswith(t[:-1])) for t in types)
