"""Run the project's real `__main__.py` under the Pulumi SDK's mock runtime and capture it.

The mock monitor sees exactly what the engine would: every RegisterResource call
with its type, name, parent, dependencies, options (protect, retainOnDelete) and
its inputs as the wire protocol carries them, secrets still marked. The mocks
answer like the providers for what they compute (names, ids, generated
passwords), so cross-resource references resolve instead of vanishing as unknowns.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func

from preview import sdk_internals
from preview.collector import collector_paused

REDACTED = "[secret]"
UNKNOWN = "[unknown]"  # how a value unknown in a preview is written out (rpc.UNKNOWN on the wire)


@dataclass
class CapturedResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    provider: str
    inputs: dict[str, Any]  # plain values; secrets replaced by REDACTED
    secret_paths: list[str]  # JSON-ish paths of the inputs that were secrets
    raw_inputs: dict[str, Any] = field(repr=False, default_factory=dict)  # unredacted: never written out
    # As the engine hands them to a policy pack: secrets as secret values (pulumi/pulumi
    # analyzer_plugin.go marshals with KeepSecrets; pulumi-policy unwraps them to plaintext
    # before a rule runs). Never written out.
    wire_inputs: dict[str, Any] = field(repr=False, default_factory=dict)
    # The same inputs as the Struct the SDK sent (RegisterResourceRequest.object): what the engine
    # hands on to a pack, kept so that the pack's requests copy it (native code) instead of
    # converting wire_inputs back. Never written out.
    wire_struct: struct_pb2.Struct | None = field(repr=False, default=None)
    # The program's ignoreChanges (RegisterResourceRequest.ignoreChanges): the engine resets these
    # paths to their old values before the provider's Diff.
    ignore_changes: list[str] = field(default_factory=list)
    # RegisterResourceRequest.propertyDependencies: the resources each input's value came from,
    # which the engine reads to find dependent replacements (dependsOn-only edges are not).
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The Kubernetes kind, or the last part of the type token (Container, RandomPassword...)."""
        return self.inputs.get("kind") or self.type.split(":")[-1]


@dataclass
class Capture:
    project: str
    stack: str
    resources: list[CapturedResource]
    outputs: dict[str, Any]
    secret_values: set[str]  # every secret value seen, for leak checks
    phase: str = "up"  # "preview": provider-computed values unknown; "up": all known

    def by_type(self, type_: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type == type_]

    @functools.cached_property
    def _by_urn(self) -> dict[str, CapturedResource]:
        return {r.urn: r for r in self.resources}

    def parent_of(self, r: CapturedResource) -> CapturedResource | None:
        """The component that declared r, if any."""
        return self._by_urn.get(r.parent)

    def declared(self) -> list[CapturedResource]:
        """The resources a provider creates: custom ones, providers themselves excluded."""
        return [r for r in self.resources if r.custom and not r.type.startswith("pulumi:providers:")]

    def get(self, type_: str, name: str) -> CapturedResource:
        for r in self.resources:
            if r.type == type_ and r.name == name:
                return r
        raise KeyError(f"{type_} {name}")


def _unwrap(value: Any, path: str, secrets: list[str], secret_values: set[str]) -> tuple[Any, Any]:
    """(redacted, raw) forms of a wire value; records secret paths and values."""
    if isinstance(value, dict):
        sig = value.get(sdk_internals.SIG_KEY)
        if sig == sdk_internals.SECRET_SIG:
            secrets.append(path)
            _, raw = _unwrap(value.get("value"), path, [], secret_values)
            if raw == UNKNOWN:  # a secret not known yet (preview): nothing to hide, say it is unknown
                return UNKNOWN, UNKNOWN
            for leaf in _leaves(raw):
                secret_values.add(leaf)
            return REDACTED, raw
        if sig == sdk_internals.RESOURCE_SIG:
            urn = value.get("urn", "")
            return urn, urn
        if sig == sdk_internals.OUTPUT_VALUE_SIG:
            return _unwrap(value.get("value"), path, secrets, secret_values)
        red, raw = {}, {}
        for k in sorted(value):
            red[k], raw[k] = _unwrap(value[k], f"{path}.{k}" if path else k, secrets, secret_values)
        return red, raw
    if isinstance(value, list):
        pairs = [_unwrap(v, f"{path}[{i}]", secrets, secret_values) for i, v in enumerate(value)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if value == rpc.UNKNOWN:
        return UNKNOWN, UNKNOWN
    if isinstance(value, float) and value.is_integer():
        # Protobuf Struct has only doubles: restore the integers Kubernetes expects.
        value = int(value)
    return value, value


def _leaves(value: Any):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, str) and value:
        yield value


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


PHASES = ("preview", "up")

# What a provider computes, hence what a first `pulumi preview` of a new stack cannot know:
# pulumi-random RandomPassword `result`/`bcryptHash` (computed in the provider schema,
# pulumi/pulumi-random provider/resources.go); pulumi-docker RemoteImage `imageId`/`repoDigest`
# (computed, pulumi/pulumi-docker provider/resources.go); a Kubernetes object's `status`
# (pulumi-kubernetes provider/pkg/provider/provider.go Create: in a preview only the
# inputs are known). The SDK sends whatever derives from them as unknown too
# (pulumi sdk/python/lib/pulumi/runtime/rpc.py serialize_property: UNKNOWN).
COMPUTED_IN_PREVIEW = {
    "random:index/randomPassword:RandomPassword": ("result", "bcryptHash"),
    "docker:index/remoteImage:RemoteImage": ("imageId", "repoDigest"),
}


def is_one_shot(inputs: dict) -> bool:
    """A pulumi-docker Container that `pulumi up` runs to its end: attached, not kept running."""
    return inputs.get("attach") is True and inputs.get("mustRun") is False


class ProviderMocks(pulumi.runtime.Mocks):
    """Answers like the providers for the outputs they compute, deterministically.

    phase "up": every computed output has a value; "preview": the outputs a provider
    computes are unknown (rpc.UNKNOWN), as on a first preview of a new stack.
    """

    def __init__(self, phase: str = "up") -> None:
        self.phase = phase

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        rid, outputs = self._outputs(args)
        if self.phase == "preview":
            for key in COMPUTED_IN_PREVIEW.get(args.typ, ()):
                outputs[key] = rpc.UNKNOWN
            if args.typ.startswith("kubernetes:") and not args.typ.startswith("pulumi:providers"):
                outputs["status"] = rpc.UNKNOWN
            if "exitCode" in outputs:  # known only once the container has run
                outputs["exitCode"] = rpc.UNKNOWN
        return rid, outputs

    def _outputs(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        outputs = dict(args.inputs)
        typ = args.typ
        if typ.startswith("kubernetes:") and not typ.startswith("pulumi:providers"):
            metadata = dict(outputs.get("metadata") or {})
            # Pulumi auto-naming: logical name plus a random suffix; here a stable one.
            metadata.setdefault("name", f"{args.name}-{_short_hash(typ + args.name)}")
            outputs["metadata"] = metadata
            if typ in ("kubernetes:core/v1:Secret", "kubernetes:core/v1:ConfigMap") and "stringData" in outputs:
                outputs.setdefault("data", {})
        elif typ == "random:index/randomPassword:RandomPassword":
            length = int(args.inputs.get("length", 32))
            seed = hashlib.sha256(f"preview-password:{args.name}".encode()).hexdigest()
            outputs["result"] = ("pv" + seed)[:length]
            outputs["bcryptHash"] = "$2a$10$" + seed[:53]
        elif typ == "pulumi:pulumi:StackReference":
            # Another stack's outputs live in its state, which the engine reads at deploy time
            # (pulumi/sdk/python/lib/pulumi/stack_reference.py: outputs + secretOutputNames);
            # offline, the one output this program reads stands in, secret as a kubeconfig is.
            outputs["outputs"] = {"kubeconfig": f"<kubeconfig exported by stack {args.inputs.get('name')}>"}
            outputs["secretOutputNames"] = ["kubeconfig"]
        elif typ.startswith("docker:"):
            outputs.setdefault("name", args.inputs.get("name") or f"{args.name}-{_short_hash(typ + args.name)}")
            if typ == "docker:index/remoteImage:RemoteImage":
                ref = args.inputs.get("name", args.name)
                outputs["imageId"] = f"{ref}"
                outputs["repoDigest"] = ref
            elif typ == "docker:index/container:Container" and is_one_shot(args.inputs):
                # Read sets exit_code once an attached container has stopped (terraform-provider-docker
                # v4.5.0 resource_docker_container_funcs.go); offline the run is taken to succeed.
                # The real exit code is the e2e's to see (tools/e2e_checks.py).
                outputs["exitCode"] = 0
        rid = f"{args.name}-id" if args.custom else None
        if typ.startswith("pulumi:providers:"):
            rid = f"{args.name}-provider-id"
        return rid, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        return {}, None


def is_plain(value: Any) -> bool:
    """Wire data the SDK's deserialization hands back unchanged: no secret, resource reference, asset,
    output value (a dict with the signature key), unknown or null anywhere."""
    if isinstance(value, dict):
        return sdk_internals.SIG_KEY not in value and all(is_plain(v) for v in value.values())
    if isinstance(value, list):
        return all(is_plain(v) for v in value)
    return value is not None and value != rpc.UNKNOWN


class CaptureMonitor(mocks.MockMonitor):
    """The SDK's mock monitor, also recording every registration as the engine receives it."""

    def __init__(self, m: pulumi.runtime.Mocks) -> None:
        super().__init__(m)
        self.captured: list[CapturedResource] = []
        self.secret_values: set[str] = set()

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)
        wire = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        if request.transforms or not is_plain(wire):
            response = super().RegisterResource(request)
        else:
            response = self._register_plain(request, wire)
        # The engine, not the SDK, marks a provider's additionalSecretOutputs (RandomPassword.result)
        # secret; the SDK's mock monitor does not, so do it here as the engine would.
        for key in request.additionalSecretOutputs:
            if key in response.object.fields:
                value = json_format.MessageToDict(response.object.fields[key])
                response.object.fields[key].struct_value.Clear()
                response.object[key] = {sdk_internals.SIG_KEY: sdk_internals.SECRET_SIG, "value": value}
        secret_paths: list[str] = []
        redacted, raw = _unwrap(wire, "", secret_paths, self.secret_values)
        wire_struct = struct_pb2.Struct()
        wire_struct.CopyFrom(request.object)
        self.captured.append(
            CapturedResource(
                wire_inputs=wire,
                wire_struct=wire_struct,
                ignore_changes=list(request.ignoreChanges),
                property_dependencies={k: sorted(v.urns) for k, v in request.propertyDependencies.items()},
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent,
                dependencies=sorted(set(request.dependencies)),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                provider=request.provider.split("::")[-1] if request.provider else "",
                inputs=redacted,
                secret_paths=sorted(secret_paths),
                raw_inputs=raw,
            )
        )
        return response

    def _register_plain(self, request, wire: dict[str, Any]) -> resource_pb2.RegisterResourceResponse:
        """MockMonitor.RegisterResource for plain inputs, without its round trip through the SDK's
        (de)serialization: for plain data that is the identity (numbers as floats, as the Struct holds
        them), so the mocks get the same inputs and the program the same outputs. Most registrations are
        plain; the rest (secrets, unknowns, nulls, references) take the SDK's own path.
        tests/preview/test_engine_fast_path.py holds both paths to the same answers."""
        urn = self.make_urn(request.parent, request.type, request.name)
        args = pulumi.runtime.MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=wire,
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
        )
        id_, state = self.mocks.new_resource(args)
        obj = struct_pb2.Struct()
        obj.update({k: v for k, v in state.items() if v is not None})
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, id_, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)


class ProgramError(Exception):
    """The program itself failed (a config error, or an exception it raised)."""

    def __init__(self, message: str, registered: int = 0) -> None:
        super().__init__(message)
        self.registered = registered  # resources registered before the failure


def run_program(
    project_dir: Path, project: str, stack: str, config: dict[str, str], secret_keys: list[str], phase: str = "up"
) -> Capture:
    """Run `project_dir/__main__.py` under mocks as the engine runs it in `phase`; return what it declared.

    "preview" is a dry run (a first `pulumi preview`: provider-computed values unknown);
    "up" resolves everything (what `pulumi up` registers and applies).
    """
    if phase not in PHASES:
        raise ValueError(f"phase {phase!r}: one of {', '.join(PHASES)}")
    monitor = CaptureMonitor(ProviderMocks(phase))
    settings.ROOT.set(None)  # a fresh root Stack for each run in this process
    # The engine runs a program once per process; here an earlier run's failure would stay
    # recorded (pulumi/runtime/rpc_manager.py unhandled_exception) and fail the next run.
    sdk_internals.clear_recorded_failures()
    runtime_config.set_all_config(dict(config), list(secret_keys))
    mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=phase == "preview", monitor=monitor)
    main = project_dir / "__main__.py"
    sys.path.insert(0, str(project_dir))
    cwd = os.getcwd()
    os.chdir(project_dir)
    try:
        with collector_paused(), sdk_internals.stack_traces_skipped():
            sdk_internals.sync_await(run_pulumi_func(lambda: runpy.run_path(str(main), run_name="__main__")))
    except pulumi.RunError as error:
        _abandon_run()
        raise ProgramError(str(error), len(monitor.captured)) from None
    except Exception as error:  # the program's own bug: report it in one line, not a traceback
        _abandon_run()
        raise ProgramError(f"{main.name}: {type(error).__name__}: {error}", len(monitor.captured)) from None
    finally:
        os.chdir(cwd)
        sys.path.remove(str(project_dir))
    outputs = _stack_outputs(monitor.secret_values)
    return Capture(project, stack, monitor.captured, outputs, monitor.secret_values, phase)


def _abandon_run() -> None:
    """After a failed run, cancel what it left pending (registrations waiting on the failed
    value): the engine would end the process, but here they would run, and fail, in the next run."""
    loop = sdk_internals.ensure_event_loop()
    left = sdk_internals.pending_outputs()  # what the SDK awaits at the end of a run (runtime/stack.py)
    tasks = {*left, *asyncio.all_tasks(loop)}
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    sdk_internals.clear_recorded_failures()
    # The failed run's inner futures hold the error already reported in one line: they must
    # not print it again, with a traceback, when they are collected.
    loop.set_exception_handler(_quiet_unretrieved)


def _quiet_unretrieved(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    if "exception was never retrieved" not in context.get("message", ""):
        loop.default_exception_handler(context)


def _stack_outputs(secret_values: set[str]) -> dict[str, Any]:
    """The program's `pulumi.export`s, resolved; secret ones redacted as the CLI shows them."""
    root = settings.get_root_resource()
    resolved: dict[str, Any] = {}
    for name, value in sorted((getattr(root, "outputs", None) or {}).items()):
        output = pulumi.Output.from_input(value)
        is_secret = sdk_internals.sync_await(output.is_secret())
        plain = sdk_internals.sync_await(output.future())
        if is_secret:
            secret_values.update(_leaves(plain))
            plain = REDACTED
        resolved[name] = plain
    return resolved
