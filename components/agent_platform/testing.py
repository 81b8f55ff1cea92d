"""Unit-test a program that uses these components, offline, under the Pulumi SDK's mocks.

    import pulumi
    from agent_platform.testing import PlatformMocks

    pulumi.runtime.set_mocks(PlatformMocks(), preview=False)
    import my_program  # noqa: E402  (the program under test registers its resources here)

Pulumi's usual mock echoes each resource's inputs as its outputs. That is not enough here: the
components read what a provider computes, and an echo leaves it unset (AgentPlatform then fails with
`TypeError: sequence item 3: expected str instance, NoneType found` while building a connection URL).
PlatformMocks echoes the inputs and fills those in, as the providers' schemas define them:

- pulumi-random's `RandomPassword.result` (output-only, `random:index/randomPassword:RandomPassword`):
  `length` characters, letters and digits (`special: false` as the components ask), derived from the
  resource's name so that every run gives the same value;
- a `StackReference`'s `outputs` (the cluster stack's `kubeconfig`, `kubernetes.clusterStack`): the
  values given to the constructor.

`resources` keeps every registration (type, name, inputs), for assertions.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field
from typing import Any

import pulumi

RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
_ALPHABET = string.ascii_letters + string.digits


def mock_password(name: str, length: int) -> str:
    """A password of `length` letters and digits, the same for the same resource name."""
    digest = b""
    counter = 0
    while len(digest) < length:
        digest += hashlib.sha256(f"{name}:{counter}".encode()).digest()
        counter += 1
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]


@dataclass
class PlatformMocks(pulumi.runtime.Mocks):
    """Echo inputs as outputs, and compute what the components read from providers (see the module)."""

    stack_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # stack name -> its outputs
    resources: list[Registered] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == RANDOM_PASSWORD:
            outputs["result"] = mock_password(args.name, int(args.inputs.get("length", 16)))
        elif args.typ == STACK_REFERENCE:
            outputs["outputs"] = dict(self.stack_outputs.get(str(args.inputs.get("name", args.name)), {}))
        self.resources.append(Registered(args.typ, args.name, dict(args.inputs)))
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None
