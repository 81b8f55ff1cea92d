"""The one typed model of an agent platform: every setting, its description and its default.

Defaults are the secure, highly available choice; a consumer relaxes them
explicitly (see Pulumi.dev.yaml). Keys are camelCase as in a stack file or a
Pulumi schema, snake_case is accepted too (the Python args).
The components validate their args against these models (`validated`), so
the defaults and the checks hold for every consumer of the package; a stack
file is one such consumer (program/stack_config.py).
"""

from __future__ import annotations

import contextvars
import copy
import difflib
import functools
import ipaddress
import re
import types
import typing
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from agent_platform import operators

# --------------------------------------------------------------------------- errors


class Problem(str):
    """One finding's line, and where it is in the values that were validated (`loc`: keys and list
    indexes), so a caller that knows where those values came from can point at the line."""

    loc: tuple[Any, ...]

    def __new__(cls, text: str, loc: tuple[Any, ...] = ()) -> Problem:
        problem = super().__new__(cls, text)
        problem.loc = tuple(loc)
        return problem


class ConfigError(Exception):
    """Invalid stack configuration: one `file: key: problem` line per finding."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + p for p in problems))


# While set, a model's own checks record their violations here instead of raising them, so the
# models above still run theirs (`_all_errors`); each is located afterwards by the instance it
# concerns. Unset (the normal case), a violation raises as pydantic expects.
_RECORDING: contextvars.ContextVar[list[tuple[BaseModel, Exception]] | None] = contextvars.ContextVar(
    "agent_platform_recording", default=None
)


def check(method: Callable[[Any], Any]) -> Any:
    """A model's own (cross-field) check: `model_validator(mode="after")` that, while recording,
    records its violation and lets the model be built."""

    @functools.wraps(method)
    def run(self: Any) -> Any:
        try:
            return method(self)
        except (PydanticCustomError, ValidationError) as error:
            recorded = _RECORDING.get()
            if recorded is None:
                raise
            recorded.append((self, error))
            return self

    return model_validator(mode="after")(run)


def rule(at: str, message: str) -> PydanticCustomError:
    """A cross-field violation reported at the sub-key `at` of the model that raised it."""
    return PydanticCustomError("rule", "{message}", {"at": at, "message": message})


class Findings:
    """A model check's violations, all reported together: pydantic stops a validator at the first
    exception, so a validator that raised `rule` would hide every later problem of its model."""

    def __init__(self) -> None:
        self.errors: list[PydanticCustomError] = []

    def __call__(self, at: str, message: str) -> None:
        self.errors.append(rule(at, message))

    def raise_any(self, title: str) -> None:
        if self.errors:
            raise ValidationError.from_exception_data(
                title, [InitErrorDetails(type=e, loc=(), input=None) for e in self.errors]
            )


def bad(kind: str, message: str, value: Any) -> PydanticCustomError:
    """A bad scalar: the message ends with the offending value itself.

    pydantic-core substitutes only `{name}` placeholders, never `{name!r}`, so the
    value is formatted here rather than left to the template.
    """
    return PydanticCustomError(kind, "{message}", {"message": f"{message}, got {value!r}"})


# --------------------------------------------------------------------------- scalar types

# Kubernetes resource.Quantity grammar: a decimal number with an optional binary
# (Ki..Ei), decimal (n, u, m, k, M..E) or exponent suffix.
_QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
# Names as the API server checks them: k8s.io/apimachinery/pkg/util/validation/validation.go
# IsDNS1123Label (dns1123LabelFmt, DNS1123LabelMaxLength 63), IsDNS1123Subdomain
# (DNS1123SubdomainMaxLength 253), IsDNS1035Label (dns1035LabelFmt: starts with a letter;
# Service names, core/validation ValidateServiceName = NameIsDNS1035Label).
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"^(\*\.)?{_DNS_LABEL}(\.{_DNS_LABEL})*$")
_DNS_1123_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
_DNS_1123_LABEL = re.compile(rf"^{_DNS_LABEL}$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
# A StatefulSet's pods carry controller-revision-hash=<name>-<10-char hash>, a label value
# (<= 63), so its name must leave room: 63 - 11 = 52 (kubernetes/kubernetes#64023; the
# API server's pod-name check alone would allow more).
STATEFULSET_NAME_MAX = 52
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONFIG_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_SUFFIX_FACTOR = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def quantity_value(text: str) -> float:
    """The numeric value of a Kubernetes quantity ("500m" -> 0.5, "1Gi" -> 1073741824)."""
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(text)
    number, suffix = match.group(1), match.group(3) or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return float(number + suffix)
    return float(number) * _SUFFIX_FACTOR[suffix]


def _quantity(value: Any) -> str:
    text = str(value)
    # Requests, limits, quotas and sizes are never negative (core validation ValidateResourceQuantityValue).
    if text.startswith("-") and _QUANTITY.match(text[1:]):
        raise bad("quantity", "must not be negative", text)
    if not _QUANTITY.match(text):
        raise bad("quantity", "must be a Kubernetes quantity such as 500m, 1, 256Mi or 10Gi", text)
    return text


def _positive_quantity(value: str) -> str:
    if quantity_value(value) <= 0:
        raise bad("quantity", "must be greater than 0", value)
    return value


def _dns_name(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise bad("dns", "must be a lowercase DNS name (RFC 1123)", value)
    return value


def _object_name(value: str) -> str:
    if len(value) > 253 or not _DNS_1123_SUBDOMAIN.match(value):
        raise bad(
            "dns",
            "must be a Kubernetes object name: a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.'; at most 253)",
            value,
        )
    return value


def _dns_label(value: str) -> str:
    if not _DNS_1123_LABEL.match(value):
        raise bad("label", "must be a lowercase DNS label (a-z, 0-9, '-', at most 63)", value)
    return value


def _service_name(value: str) -> str:
    if not _DNS_1035_LABEL.match(value):
        raise bad(
            "label",
            "must be a lowercase DNS-1035 label (starts with a letter; a-z, 0-9, '-'; at most 63): it names a "
            "Kubernetes Service",
            value,
        )
    return value


def split_image(ref: str) -> tuple[str, str | None, str | None]:
    """Split `repo[:tag][@digest]` into (repository, tag, digest)."""
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


def with_registry(image: str, registry: str | None) -> str:
    """`image` with `registry` in front when it names none (Docker Hub shorthand such as `postgres:16`)."""
    first = image.split("/", 1)[0]
    if not registry or ("/" in image and ("." in first or ":" in first or first == "localhost")):
        return image
    return f"{registry}/{image}"


def _image(value: str) -> str:
    repo, tag, digest = split_image(value)
    if not repo or any(c.isspace() for c in value):
        raise bad("image", "must be an image reference repo:tag or repo@sha256:...", value)
    path = repo.split("/", 1)[1] if "/" in repo and any(c in repo.split("/", 1)[0] for c in ".:") else repo
    if not _IMAGE_PATH.match(path):
        raise bad(
            "image",
            "repository must be lowercase (a-z, 0-9, '.', '_', '-', '/'), as registries and the kubelet require",
            repo,
        )
    if tag is not None and not _IMAGE_TAG.match(tag):
        raise bad("image", "tag must be [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag)
    if digest is not None and not _DIGEST.match(digest):
        raise bad("image", "digest must be sha256:<64 hex>", digest)
    if tag is None and digest is None:
        raise bad("image", "must carry a tag or a digest (an untagged image means `latest`)", value)
    if tag == "latest":
        raise bad("image", "must not use the mutable tag `latest`", value)
    return value


# distribution/reference regexp.go: path components are lowercase; tags are [\w][\w.-]{0,127}.
_IMAGE_PATH = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _cidr(value: str) -> str:
    # The API server parses NetworkPolicy ipBlock.cidr with net.ParseCIDR (networking
    # validation ValidateIPBlock): a bare address without /prefix is refused.
    if "/" not in value:
        raise bad("cidr", "must be a CIDR with an explicit prefix such as 10.0.0.0/8 or 203.0.113.7/32", value)
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise bad("cidr", f"must be a CIDR such as 0.0.0.0/0 or 10.0.0.0/8 ({error})", value) from None
    return value


# Cron as the API server parses a CronJob's schedule (kubernetes pkg/apis/batch/validation
# validateScheduleFormat: robfig/cron/v3 ParseStandard, and no TZ= / CRON_TZ= prefix, which
# spec.timeZone replaces). robfig's bounds: minute 0-59, hour 0-23, day of month 1-31, month 1-12
# (jan-dec), day of week 0-6 (sun-sat); each field a list of `*`/`?`, a number or name, or a range,
# each with an optional /step > 0 (parser.go getRange). Five fields only: the platform converts
# them (CloudNativePG's six-field schedule adds seconds).
_CRON_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}),
    ("day of week", 0, 6, {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}),
)


def _cron_part(part: str, low: int, high: int, names: dict[str, int]) -> str | None:
    """What is wrong with one comma-separated part of a cron field, or None."""
    span, _, step = part.partition("/")
    if _ and not (step.isdigit() and int(step) > 0):
        return f"step {step!r} must be a positive number"
    if span in ("*", "?"):
        return None

    def number(text: str) -> int | None:
        if text.lower() in names:
            return names[text.lower()]
        return int(text) if text.isdigit() else None

    first, dash, last = span.partition("-")
    start, end = number(first), number(last) if dash else None
    if start is None or (dash and end is None):
        return f"{span!r} is not a number, name or range"
    for n in (start, end):
        if n is not None and not low <= n <= high:
            return f"{n} is outside {low}-{high}"
    if end is not None and start > end:
        return f"range {span!r} starts after it ends"
    return None


def _cron(value: str) -> str:
    if re.match(r"^\s*(CRON_)?TZ=", value):
        raise bad("cron", "must not carry a time zone (TZ=): set timeZone instead", value)
    fields = value.split()
    if len(fields) != 5:
        raise bad("cron", "must be a cron schedule of five fields (minute hour day-of-month month day-of-week)", value)
    for field, (what, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in field.split(","):
            wrong = _cron_part(part, low, high, names)
            if wrong:
                raise bad("cron", f"{what} field: {wrong}", value)
    return value


def _time_zone(value: str) -> str:
    # batch validation validateTimeZone: an explicit IANA zone that time.LoadLocation knows; never
    # "Local" (the controller's own zone).
    if value.lower() == "local":
        raise bad("tz", "must be an explicit IANA time zone such as Etc/UTC, not Local", value)
    known = zoneinfo.available_timezones()
    if known and value not in known:
        close = difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise bad("tz", f"must be an IANA time zone such as Etc/UTC or Europe/Berlin{hint}", value)
    return value


def _ip_address(value: str) -> str:
    # Docker parses a published port's host IP with net.ParseIP (docker/go-connections nat
    # ParsePortSpec: "invalid IP address"): a host name or a typo is refused at `pulumi up`.
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise bad("ip", "must be an IP address such as 127.0.0.1 or 0.0.0.0", value) from None
    return value


def _ipv4_address(value: str) -> str:
    # Rendered as the NetworkPolicy ipBlock cidr <address>/32, which the API server parses with
    # net.ParseCIDR (networking validation ValidateIPBlock): 999.1.1.1 is refused there.
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise bad("ip", "must be an IPv4 address such as 169.254.20.10", value) from None
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise bad("env", "must be an environment variable name", value)
    return value


def _config_key(value: str) -> str:
    if not _CONFIG_KEY.match(value) or ":" in value:
        raise bad("key", "must be a config key of this project (letters, digits, '-', '_')", value)
    return value


# Label keys and values as the API server checks them (apimachinery validation.go
# IsQualifiedName: an optional DNS-subdomain prefix and '/', then a name of at most 63;
# IsValidLabelValue). Prefixes the platform owns are refused in user labels: its selectors
# and policies rely on them.
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
RESERVED_PREFIXES = (
    "app.kubernetes.io/",
    "agent-platform.io/",
    "pod-security.kubernetes.io/",
    "checksum/",
    "pulumi.com/",
)


def _metadata_key(value: str) -> str:
    _metadata_key_syntax(value)
    if value.startswith(RESERVED_PREFIXES) or value in ("kubernetes.io/metadata.name",):
        raise bad("label", f"is owned by the platform (keys starting {', '.join(RESERVED_PREFIXES)})", value)
    return value


def _metadata_key_syntax(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if (prefix and (len(prefix) > 253 or not _DNS_1123_SUBDOMAIN.match(prefix))) or not _QUALIFIED_NAME.match(name):
        raise bad(
            "label",
            "must be a Kubernetes label or annotation key ([prefix/]name, name at most 63: a-z, A-Z, 0-9, '-', '_', "
            "'.')",
            value,
        )
    return value


def _label_value(value: str) -> str:
    if not _LABEL_VALUE.match(value):
        raise bad(
            "label",
            "must be a label value (at most 63: a-z, A-Z, 0-9, '-', '_', '.', alphanumeric at both ends)",
            value,
        )
    return value


def _number_as_text(value: Any) -> Any:
    # A manifest takes a quantity as a number or a string (resource.Quantity is int-or-string):
    # `cpu: 1` is as valid as `cpu: "1"`.
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


Quantity = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(_quantity)]
MetadataKey = Annotated[str, AfterValidator(_metadata_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
Cidr = Annotated[str, AfterValidator(_cidr)]
# The schema keeps a coarse pattern for editors; the validators hold the full rule.
CronSchedule = Annotated[str, AfterValidator(_cron), Field(json_schema_extra={"pattern": r"^(\S+\s+){4}\S+$"})]
IpAddress = Annotated[str, AfterValidator(_ip_address)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Ipv4Address = Annotated[
    str, AfterValidator(_ipv4_address), Field(json_schema_extra={"pattern": r"^(\d{1,3}\.){3}\d{1,3}$"})
]
DnsName = Annotated[str, AfterValidator(_dns_name)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
ObjectName = Annotated[str, AfterValidator(_object_name)]
ServiceName = Annotated[str, AfterValidator(_service_name)]
PositiveQuantity = Annotated[
    str, BeforeValidator(_number_as_text), AfterValidator(_quantity), AfterValidator(_positive_quantity)
]
Image = Annotated[str, AfterValidator(_image)]
EnvName = Annotated[str, AfterValidator(_env_name)]
SecretKey = Annotated[str, AfterValidator(_config_key)]
Port = Annotated[int, Field(ge=1, le=65535)]
Percent = Annotated[int, Field(ge=1, le=100)]
NonRootId = Annotated[
    int, Field(ge=10000, le=2**31 - 1, description="A numeric ID of at least 10000, outside any host range.")
]


class Model(BaseModel):
    """camelCase keys as in a stack file; unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _keep_defaults(cls, values: Any) -> Any:
        """A setting whose default is an object, given in part, keeps the rest of that default:
        `resources: {limits: {memory: 2Gi}}` keeps the default requests and limits.cpu."""
        if not isinstance(values, dict):
            return values
        merged = None
        for name, field in cls.model_fields.items():
            key = next((k for k in (field.alias, name) if k and k in values), None)
            if key is not None and isinstance(field.default, BaseModel) and isinstance(values[key], dict):
                given = _over_default(field.default, values[key])
                if given is not values[key]:
                    merged = merged if merged is not None else dict(values)
                    merged[key] = given
        return values if merged is None else merged


def _over_default(default: BaseModel, given: dict[str, Any]) -> dict[str, Any]:
    """`given` over the default object `default`. Only a partial object (a required key missing,
    which alone would be refused) takes the default's other keys, so what was valid reads as
    before; a nested partial object is completed from the default's own. A different choice of a
    fixed-choice key (`mode: secret` over `mode: certManager`) is another variant: kept as written."""
    fields = type(default).model_fields

    def written(name: str) -> str | None:
        alias = fields[name].alias
        return next((k for k in (alias, name) if k and k in given), None)

    for name, field in fields.items():
        key = written(name)
        if key is not None and typing.get_origin(_unwrap(field.annotation)) is Literal:
            if given[key] != getattr(default, name):
                return given
    partial = any(field.is_required() and written(name) is None for name, field in fields.items())
    result = dict(given)
    for name in fields:
        key, value = written(name), getattr(default, name)
        if key is None:
            if partial and name in default.model_fields_set:
                result[fields[name].alias or name] = value
        elif isinstance(value, BaseModel) and isinstance(given[key], dict):
            result[key] = _over_default(value, given[key])
    return result if (partial or result != given) else given


# --------------------------------------------------------------------------- common knobs
# The same knobs sit in the same place on every workload (Bitnami-style):
# image, resources, securityContext, persistence, networkPolicy, pdb.


class ResourceAmounts(Model):
    cpu: Quantity = Field(description="CPU, e.g. `250m` or `1`.")
    memory: Quantity = Field(description="Memory, e.g. `256Mi` or `1Gi`.")


class Resources(Model):
    requests: ResourceAmounts = Field(
        description="What the scheduler reserves; the HPA's utilisation is relative to it."
    )
    limits: ResourceAmounts = Field(description="The hard ceiling; memory over it OOM-kills the container.")

    @check
    def _requests_within_limits(self) -> Resources:
        for field in ("cpu", "memory"):
            req, lim = getattr(self.requests, field), getattr(self.limits, field)
            if quantity_value(req) > quantity_value(lim):
                raise rule(f"requests.{field}", f"must be <= limits.{field} ({req} > {lim})")
        return self


class SecurityContext(Model):
    run_as_user: NonRootId = Field(10001, description="UID the containers run as.")
    run_as_group: NonRootId = Field(10001, description="GID the containers run as.")
    fs_group: NonRootId = Field(10001, description="GID that owns mounted volumes.")
    read_only_root_filesystem: bool = Field(
        True, description="Mount the image read-only; writable paths are emptyDirs."
    )


class Persistence(Model):
    enabled: bool = Field(
        True, description="Keep data on a PersistentVolumeClaim (false: an emptyDir that dies with the pod)."
    )
    # A claim's storage request must be > 0 (core validation ValidatePersistentVolumeClaimSpec:
    # ValidatePositiveQuantityValue of resources.requests.storage).
    size: PositiveQuantity = Field(
        "10Gi",
        description="Requested volume size. Changing it later does not resize existing volumes: see docs/operations.md "
        '"Resize a volume".',
    )
    storage_class: ObjectName | None = Field(
        None, description="StorageClass name; unset uses the cluster default. Applies to new volumes only."
    )


class NetworkPolicyToggle(Model):
    enabled: bool = Field(True, description="Declare least-privilege NetworkPolicies for this workload.")


class Pdb(Model):
    enabled: bool = Field(True, description="Declare a PodDisruptionBudget.")
    max_unavailable: int | None = Field(
        None,
        ge=0,
        description="Pods that may be down in a voluntary disruption (default 1 when minAvailable is unset).",
    )
    min_available: int | None = Field(None, ge=0, description="Pods that must stay up; exclusive with maxUnavailable.")

    @check
    def _one_of(self) -> Pdb:
        if self.max_unavailable is not None and self.min_available is not None:
            raise rule("minAvailable", "set either minAvailable or maxUnavailable, not both")
        if self.max_unavailable == 0:
            raise rule("maxUnavailable", "must be >= 1: 0 blocks every node drain")
        return self


class Toleration(Model):
    key: str | None = Field(None, description="Taint key; unset with operator Exists tolerates every taint.")
    operator: Literal["Equal", "Exists"] = Field(
        "Equal", description="`Equal` matches key and value, `Exists` the key only."
    )
    value: str | None = Field(None, description="Taint value (operator Equal).")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="Taint effect; unset matches all."
    )
    toleration_seconds: int | None = Field(
        None, ge=0, description="NoExecute: how long the pod stays bound after the taint appears."
    )

    @check
    def _as_the_api_server(self) -> Toleration:
        # kubernetes pkg/apis/core/validation/validation.go ValidateTolerations.
        found = Findings()
        if self.key:
            try:
                _metadata_key_syntax(self.key)
            except PydanticCustomError as error:
                found("key", error.message())
        if not self.key and self.operator != "Exists":
            found("operator", f"must be Exists when key is empty (match every taint), got {self.operator!r}")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            found("effect", f"must be NoExecute when tolerationSeconds is set, got {self.effect!r}")
        if self.operator == "Exists" and self.value:
            found("value", f"must be empty when operator is Exists, got {self.value!r}")
        if self.operator == "Equal" and self.value and not _LABEL_VALUE.match(self.value):
            found("value", f"must be a label value (at most 63: a-z, A-Z, 0-9, '-', '_', '.'), got {self.value!r}")
        found.raise_any("Toleration")
        return self


class Scheduling(Model):
    """Where the pods may run: the same knobs on every workload (agent services, Postgres, Redis)."""

    node_selector: dict[MetadataKey, LabelValue] = Field(
        {}, description="Node labels the pods require (a node pool, an architecture)."
    )
    tolerations: list[Toleration] = Field([], description="Taints the pods tolerate (dedicated or GPU node pools).")
    affinity: dict[str, Any] = Field(
        {},
        description="A Kubernetes `Affinity` object (keys as in a manifest: nodeAffinity, podAffinity, "
        "podAntiAffinity). The platform's own soft anti-affinity and zone spread stay; terms given here "
        "are added.",
    )
    priority_class_name: ObjectName | None = Field(
        None, description="PriorityClass of the pods (it must exist in the cluster)."
    )

    @check
    def _affinity(self) -> Scheduling:
        unknown = set(self.affinity) - {"nodeAffinity", "podAffinity", "podAntiAffinity"}
        if unknown:
            raise rule(
                f"affinity.{sorted(unknown)[0]}",
                "unknown key: an Affinity has nodeAffinity, podAffinity and podAntiAffinity",
            )
        return self


class ServiceAccountSettings(Model):
    name: ObjectName | None = Field(
        None, description="Use this existing ServiceAccount instead of creating one (it is not managed here)."
    )
    annotations: dict[MetadataKey, str] = Field(
        {},
        description="Annotations of the created ServiceAccount: workload identity, e.g. `eks.amazonaws.com/role-arn`, "
        "`iam.gke.io/gcp-service-account`, `azure.workload.identity/client-id`.",
    )

    @check
    def _one(self) -> ServiceAccountSettings:
        if self.name and self.annotations:
            raise rule(
                "annotations",
                "cannot annotate an existing ServiceAccount (name is set): annotate it where it is managed",
            )
        return self


class SecretKeyRef(Model):
    name: ObjectName = Field(description="Secret name (in the namespace).")
    key: str = Field(min_length=1, description="Key in the Secret.")


class ConfigMapKeyRef(Model):
    name: ObjectName = Field(description="ConfigMap name (in the namespace).")
    key: str = Field(min_length=1, description="Key in the ConfigMap.")


class FieldRef(Model):
    field_path: Literal[
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.serviceAccountName",
        "status.hostIP",
        "status.podIP",
    ] = Field(description="Pod field (the downward API).")


class ValueFrom(Model):
    secret_key_ref: SecretKeyRef | None = Field(None, description="A key of an existing Secret.")
    config_map_key_ref: ConfigMapKeyRef | None = Field(
        None, description="A key of an existing ConfigMap (never a credential)."
    )
    field_ref: FieldRef | None = Field(None, description="A field of the pod.")

    @check
    def _one(self) -> ValueFrom:
        given = [k for k in ("secret_key_ref", "config_map_key_ref", "field_ref") if getattr(self, k) is not None]
        if len(given) != 1:
            raise rule("secretKeyRef", "set exactly one of secretKeyRef, configMapKeyRef, fieldRef")
        return self


class ExtraEnv(Model):
    name: EnvName = Field(description="Environment variable name.")
    value_from: ValueFrom = Field(description="Where the value comes from.")


def _manifest_shape(values: Any, shapes: dict[str, tuple[str, str]]) -> Any:
    """A Kubernetes manifest's nested form accepted for a flat setting: `{secretRef: {name: x}}` is
    `{secret: x}`. Only a reference holding just that one key is unwrapped; anything else stays as
    written and is reported as it is."""
    if not isinstance(values, dict):
        return values
    values = dict(values)
    for manifest_key, (inner, flat) in shapes.items():
        ref = values.get(manifest_key)
        if isinstance(ref, dict) and set(ref) == {inner} and flat not in values:
            values[flat] = values.pop(manifest_key)[inner]
    return values


class EnvFromSource(Model):
    """Keys as here or as in a pod manifest's envFrom (`secretRef: {name: x}`, `configMapRef: {name: x}`)."""

    @model_validator(mode="before")
    @classmethod
    def _manifest(cls, values: Any) -> Any:
        return _manifest_shape(values, {"secretRef": ("name", "secret"), "configMapRef": ("name", "configMap")})

    secret: ObjectName | None = Field(None, description="An existing Secret: every key becomes a variable.")
    config_map: ObjectName | None = Field(
        None, description="An existing ConfigMap: every key becomes a variable (never credentials)."
    )
    prefix: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Prefix added to each variable name."
    )

    @check
    def _one(self) -> EnvFromSource:
        if (self.secret is None) == (self.config_map is None):
            raise rule("secret", "set exactly one of secret, configMap")
        return self


# --------------------------------------------------------------------------- agent services


class Keda(Model):
    """Scaling on pending work instead of CPU: agent runs wait on an LLM, so CPU says little."""

    trigger: Literal["postgres", "redis"] = Field(
        "postgres", description="`postgres`: the result of `query`; `redis`: the length of the list `listName`."
    )
    query: str = Field(
        "SELECT count(*) FROM runs WHERE status = 'running'",
        min_length=1,
        description="postgres: a query returning the amount of work (the reference app's runs in flight).",
    )
    list_name: str = Field("agent:runs:pending", min_length=1, description="redis: the list holding queued runs.")
    target_value: int = Field(20, ge=1, description="Work per pod to hold (runs per replica).")
    polling_interval_seconds: int = Field(15, ge=1, le=3600, description="How often KEDA asks.")
    operator_namespace: DnsLabel = Field(
        "keda", description="Namespace of the KEDA operator, which the data store's NetworkPolicy admits to ask."
    )


class Autoscaling(Model):
    enabled: bool = Field(
        True, description="Declare a HorizontalPodAutoscaler (autoscaling/v2); spec.replicas is then left to it."
    )
    engine: Literal["hpa", "keda"] = Field(
        "hpa",
        description="`hpa`: a HorizontalPodAutoscaler on CPU, memory or a pods metric; `keda`: a KEDA ScaledObject on "
        "pending runs (KEDA's own HPA, the same bounds and behaviour).",
    )
    keda: Keda = Field(Keda(), description="engine keda: the trigger.")
    min_replicas: int = Field(3, ge=1, description="Lower bound of the HPA.")
    max_replicas: int = Field(10, ge=1, description="Upper bound of the HPA.")
    target_cpu_percent: Percent | None = Field(70, description="Average CPU utilisation (of requests) to hold.")
    target_memory_percent: Percent | None = Field(None, description="Average memory utilisation (of requests) to hold.")
    pods_metric: PodsMetric | None = Field(
        None, description="A custom per-pod metric (e.g. in-flight streams) from a metrics adapter."
    )
    scale_down_stabilization_seconds: int = Field(
        300, ge=0, le=3600, description="How long the HPA waits before removing pods; long for streaming."
    )

    @check
    def _bounds(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise rule("minReplicas", f"must be <= maxReplicas ({self.min_replicas} > {self.max_replicas})")
        if (
            self.enabled
            and self.engine == "hpa"
            and not (self.target_cpu_percent or self.target_memory_percent or self.pods_metric)
        ):
            raise rule("targetCpuPercent", "an enabled autoscaler needs at least one metric")
        return self


class PodsMetric(Model):
    name: str = Field(description="Metric name as served by the custom metrics API.")
    target_average_value: Quantity = Field(description="Per-pod average to hold, e.g. `20`.")


class Probe(Model):
    path: str = Field(pattern=r"^/", description="HTTP path.")
    initial_delay_seconds: int = Field(0, ge=0, description="Wait before the first check.")
    period_seconds: int = Field(10, ge=1, description="Seconds between checks.")
    timeout_seconds: int = Field(2, ge=1, description="Seconds before a check counts as failed.")
    failure_threshold: int = Field(3, ge=1, description="Consecutive failures before acting.")


class Probes(Model):
    port: Port | None = Field(None, description="Port the probes hit; default the service port.")
    liveness: Probe = Field(
        Probe(path="/healthz", period_seconds=10, failure_threshold=3),
        description="Restart the container when this fails (alive).",
    )
    readiness: Probe = Field(
        Probe(path="/readyz", period_seconds=5, failure_threshold=2),
        description="Take the pod out of the Service when this fails (ready for traffic).",
    )
    startup: Probe = Field(
        Probe(path="/healthz", period_seconds=5, failure_threshold=30),
        description="Hold the other probes until the app has started (slow model warm-up).",
    )

    docker_command: list[str] | None = Field(
        None,
        min_length=1,
        description="Docker host: the health check's command instead of the default, which fetches the liveness path "
        "with `python` (for an image without python, e.g. `[wget, -qO-, http://127.0.0.1:8000/live]`); Kubernetes "
        "keeps the HTTP probes.",
    )

    @check
    def _distinct(self) -> Probes:
        if self.liveness == self.readiness:
            raise rule("readiness", "must differ from liveness: identical probes restart pods that are only busy")
        return self


DRAIN_MARGIN_SECONDS = 10  # the app's other shutdown steps and its exit, within the grace period


class Drain(Model):
    pre_stop_seconds: int = Field(
        10, ge=0, le=120, description="Sleep before SIGTERM so endpoints drop the pod before it stops accepting."
    )
    termination_grace_seconds: int = Field(
        120, ge=1, le=7200, description="Time from SIGTERM to SIGKILL: long enough to finish streaming responses."
    )

    budget_env: EnvName | None = Field(
        None,
        description="A variable the app reads its drain budget from, in seconds (e.g. Aegra's `WORKER_DRAIN_TIMEOUT`): "
        f"terminationGraceSeconds - preStopSeconds - {DRAIN_MARGIN_SECONDS} s to exit, so the app stops waiting "
        "for in-flight work before the platform kills it.",
    )

    def budget_seconds(self) -> int:
        """What is left of the grace period for in-flight work once preStop has slept, less the
        time the process needs to exit after its drain: SIGKILL comes at terminationGraceSeconds."""
        return max(1, self.termination_grace_seconds - self.pre_stop_seconds - DRAIN_MARGIN_SECONDS)

    @check
    def _room(self) -> Drain:
        if self.termination_grace_seconds <= self.pre_stop_seconds:
            raise rule(
                "terminationGraceSeconds",
                f"must exceed preStopSeconds ({self.termination_grace_seconds} <= {self.pre_stop_seconds}) or the app "
                "never drains",
            )
        return self


class ConnectionEnv(Model):
    """Names of the variables the app reads its data stores' URLs from."""

    database: EnvName = Field(
        "DATABASE_URL", description="The Postgres URL's variable (LangGraph's own server reads `DATABASE_URI`)."
    )
    redis: EnvName = Field("REDIS_URL", description="The Redis URL's variable (LangGraph's server: `REDIS_URI`).")

    @check
    def _distinct(self) -> ConnectionEnv:
        if self.database == self.redis:
            raise rule("redis", f"must differ from database ({self.redis!r}): one variable cannot hold both URLs")
        return self


class ServiceIngress(Model):
    enabled: bool = Field(True, description="Route external traffic to this service through the stack's Ingress.")
    paths: list[Annotated[str, Field(pattern=r"^/")]] = Field(
        ["/"], min_length=1, description="Path prefixes routed here."
    )


class ExtraVolume(Model):
    """A pod volume of a kind the restricted Pod Security Standard allows (never hostPath). Sources as
    here or as in a pod manifest (`configMap: {name: x}`, `secret: {secretName: x}`,
    `emptyDir: {sizeLimit: 64Mi}`, `persistentVolumeClaim: {claimName: x}`)."""

    @model_validator(mode="before")
    @classmethod
    def _manifest(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        values = dict(values)
        for key, inner in (
            ("configMap", "name"),
            ("secret", "secretName"),
            ("emptyDir", "sizeLimit"),
            ("persistentVolumeClaim", "claimName"),
        ):
            ref = values.get(key)
            if isinstance(ref, dict) and set(ref) == {inner}:
                values[key] = ref[inner]
        return values

    name: DnsLabel = Field(description="Volume name (not `tmp` or `data`, which the platform uses).")
    config_map: ObjectName | None = Field(None, description="An existing ConfigMap, as files.")
    secret: ObjectName | None = Field(None, description="An existing Secret, as files (mode 0440).")
    empty_dir: Quantity | None = Field(None, description="Scratch space of at most this size (`64Mi`).")
    persistent_volume_claim: ObjectName | None = Field(None, description="An existing PersistentVolumeClaim.")

    @check
    def _one(self) -> ExtraVolume:
        given = [
            k for k in ("config_map", "secret", "empty_dir", "persistent_volume_claim") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise rule("configMap", "set exactly one of configMap, secret, emptyDir, persistentVolumeClaim")
        if self.name in ("tmp", "data"):
            raise rule("name", f"{self.name!r} is used by the platform")
        return self


class VolumeMountSettings(Model):
    name: DnsLabel = Field(description="A volume of `extraVolumes` (or `tmp`, the pod's scratch space).")
    mount_path: str = Field(pattern=r"^/", description="Where it is mounted.")
    read_only: bool = Field(True, description="Mount read-only (default: writes go to emptyDirs only).")


class SidecarProbe(Model):
    path: str | None = Field(None, pattern=r"^/", description="HTTP GET path (with `port`).")
    port: Port | None = Field(None, description="Port of the HTTP check.")
    command: list[str] | None = Field(None, min_length=1, description="A command instead of HTTP.")

    @check
    def _one(self) -> SidecarProbe:
        if (self.command is None) == (self.path is None or self.port is None):
            raise rule("path", "set path and port (HTTP), or command")
        return self


class ExtraContainer(Model):
    """A container beside the app (sidecar) or before it (init container), with the same
    hardening: the service's non-root identity, read-only root filesystem, no privilege
    escalation, ALL capabilities dropped, seccomp RuntimeDefault, requests and limits."""

    name: DnsLabel = Field(description="Container name (not `app`).")
    image: Image = Field(description="Image with a tag and/or digest; never `latest`.")
    command: list[str] | None = Field(None, description="Overrides the image ENTRYPOINT.")
    args: list[str] | None = Field(None, description="Overrides the image CMD.")
    env: dict[EnvName, str] = Field(
        {}, description="Plain environment (never secrets; use extraVolumes with a Secret)."
    )
    resources: Resources = Field(
        Resources(
            requests=ResourceAmounts(cpu="50m", memory="64Mi"), limits=ResourceAmounts(cpu="200m", memory="128Mi")
        ),
        description="CPU and memory requests and limits.",
    )
    volume_mounts: list[VolumeMountSettings] = Field([], description="Volumes it mounts.")
    probe: SidecarProbe | None = Field(
        None,
        description="Sidecars: the health check (liveness and readiness are derived from it); required for a sidecar, "
        "unused for an init container.",
    )

    @check
    def _name(self) -> ExtraContainer:
        if self.name == "app":
            raise rule("name", "'app' is the service's own container")
        return self


class Migration(Model):
    """A one-shot Job (a one-shot container on a Docker host) that migrates the database before the new
    version rolls out."""

    enabled: bool = Field(
        False,
        description="Run it: the workload waits for the Job (Docker: the `<name>-migrate` container) to complete, and "
        "a failure stops the rollout.",
    )
    command: list[str] = Field(
        ["python3", "/app/app.py", "migrate"], min_length=1, description="The service image's own migration command."
    )
    args: list[str] | None = Field(None, description="Its arguments.")
    backoff_limit: int = Field(
        2,
        ge=0,
        le=10,
        description="Retries before the Job, and so the rollout, fails (Kubernetes; Docker does not retry).",
    )
    active_deadline_seconds: int = Field(600, ge=30, le=86400, description="The longest a migration may run.")
    ttl_seconds_after_finished: int = Field(
        86400, ge=0, description="How long the finished Job and its pod stay for inspection."
    )


class CheckpointCleanup(Model):
    """A CronJob that deletes old checkpoints."""

    enabled: bool = Field(False, description="Declare the CronJob.")
    schedule: CronSchedule = Field(
        "17 3 * * *",
        description="Cron schedule (five fields, the cluster's time zone unless `timeZone`).",
    )
    time_zone: TimeZone | None = Field(None, description="IANA time zone of the schedule, e.g. `Etc/UTC`.")
    retention_days: int = Field(30, ge=1, le=3650, description="Checkpoints older than this many days are deleted.")
    command: list[str] = Field(
        ["python3", "/app/app.py", "cleanup-checkpoints"],
        min_length=1,
        description="The image's cleanup command; `--older-than-days N` is appended.",
    )


class Canary(Model):
    image: Image = Field(description="The new image the canary runs.")
    weight: int = Field(
        10,
        ge=0,
        le=100,
        description="Percent of external requests the canary receives (ingress-nginx `canary-weight`).",
    )
    replicas: int = Field(
        2,
        ge=1,
        description="Canary pods (fixed; the stable Deployment keeps its autoscaler); two, so the canary survives a "
        "node drain.",
    )


class BlueGreen(Model):
    active: Literal["blue", "green"] = Field("blue", description="The colour the Service sends traffic to.")
    blue_image: Image | None = Field(None, description="Image of the blue Deployment; unset: the service's `image`.")
    green_image: Image | None = Field(None, description="Image of the green Deployment; unset: the service's `image`.")
    idle_replicas: int | None = Field(
        None,
        ge=0,
        description="Pods of the idle colour: unset keeps it as large as the active one (an instant switch back); 0 "
        "scales it to zero.",
    )


class Rollout(Model):
    """How a new version reaches the pods. Every step of a release is an edit of these keys."""

    strategy: Literal["rolling", "canary", "blueGreen"] = Field(
        "rolling",
        description="`rolling`: one pod at a time (surge 1, never below capacity); `canary`: a second Deployment "
        "`<name>-canary` takes `canary.weight` percent of external traffic; `blueGreen`: Deployments "
        "`<name>-blue` and `<name>-green`, the Service `<name>` selects the active colour.",
    )
    partition: int | None = Field(
        None,
        ge=0,
        description="StatefulSet only: pods with an ordinal >= partition move to the new revision, the others stay (a "
        "staged rollout; lower it step by step to 0).",
    )
    canary: Canary | None = Field(None, description="strategy canary: the canary's image, weight and size.")
    blue_green: BlueGreen | None = Field(
        None, description="strategy blueGreen: the colours' images and the active one."
    )

    @check
    def _complete(self) -> Rollout:
        if self.strategy == "canary" and self.canary is None:
            raise rule("canary", "is required when strategy is canary")
        if self.strategy == "blueGreen" and self.blue_green is None:
            raise rule("blueGreen", "is required when strategy is blueGreen")
        if self.strategy != "canary" and self.canary is not None:
            raise rule(
                "canary", "only applies when strategy is canary (promote: set `image` to the canary's and remove this)"
            )
        if self.strategy != "blueGreen" and self.blue_green is not None:
            raise rule("blueGreen", "only applies when strategy is blueGreen")
        return self


# The second Deployment of a canary release; `-blue`/`-green` (as long) name the colours.
CANARY_SUFFIX = "-canary"


@dataclass(frozen=True)
class ReleaseUnit:
    """One Deployment or StatefulSet a service runs as: the stable one, a canary or a colour. The
    platform, the service, the Ingress and the quota all read a service's units from here."""

    name: str
    image: str
    role: str  # stable | canary | active | idle
    autoscaled: bool
    replicas: int  # when not autoscaled


class AgentServiceConfig(Model):
    name: ServiceName = Field(
        description="Service name; names every object of the service (a DNS-1035 label: at most 63 characters, 52 for "
        "a StatefulSet)."
    )
    image: Image = Field(
        description="Container image with a tag and/or digest (`repo:tag@sha256:...` in prod); never `latest`."
    )
    image_pull_policy: Literal["Always", "IfNotPresent"] = Field(
        "Always", description="`Always` re-checks the registry so a moved tag is noticed."
    )
    kind: Literal["Deployment", "StatefulSet"] = Field(
        "Deployment",
        description="Stateless API pods (Deployment) or sticky identities (StatefulSet, with a headless Service).",
    )
    port: Port = Field(8000, description="Port the app listens on.")
    command: list[str] | None = Field(None, description="Overrides the image ENTRYPOINT.")
    args: list[str] | None = Field(None, description="Overrides the image CMD.")
    env: dict[EnvName, str] = Field({}, description="Plain environment (a ConfigMap). Never put secrets here.")
    secret_env: dict[EnvName, SecretKey] = Field(
        {},
        description="Environment variable -> secret stack config key (`pulumi config set --secret KEY`); lands in a "
        "Secret.",
    )
    resources: Resources = Field(
        Resources(requests=ResourceAmounts(cpu="250m", memory="512Mi"), limits=ResourceAmounts(cpu="1", memory="1Gi")),
        description="CPU and memory requests and limits.",
    )
    security_context: SecurityContext = Field(
        SecurityContext(),
        description="Pod and container identity; always non-root, no privilege escalation, ALL capabilities dropped, "
        "seccomp RuntimeDefault.",
    )
    replicas: int = Field(3, ge=1, description="Fixed replica count when autoscaling is disabled.")
    autoscaling: Autoscaling = Field(Autoscaling(), description="Horizontal autoscaling.")
    pdb: Pdb = Field(Pdb(), description="PodDisruptionBudget.")
    network_policy: NetworkPolicyToggle = Field(
        NetworkPolicyToggle(), description="Least-privilege ingress and egress for the pods."
    )
    persistence: Persistence = Field(
        Persistence(enabled=False, size="1Gi"), description="A volume per pod at /data (StatefulSet only)."
    )
    probes: Probes = Field(Probes(), description="Liveness (/healthz), readiness (/readyz) and startup probes.")
    drain: Drain = Field(Drain(), description="Graceful shutdown for in-flight streaming requests.")
    ingress: ServiceIngress = Field(ServiceIngress(), description="External exposure through the stack Ingress.")
    allow_from: list[ServiceName] = Field(
        [],
        description="Other services of the stack whose pods may call this one on its port (NetworkPolicy); no one else "
        "inside the namespace can.",
    )
    uses_postgres: bool = Field(True, description="Receive DATABASE_URL and egress to Postgres.")
    uses_redis: bool = Field(True, description="Receive REDIS_URL and egress to Redis.")
    connection_env: ConnectionEnv = Field(
        ConnectionEnv(),
        description="Names of the variables that carry the database and Redis URLs, for an app that reads other "
        "names than DATABASE_URL and REDIS_URL (its migration and cleanup jobs get the same).",
    )
    scheduling: Scheduling = Field(
        Scheduling(), description="Node selection, tolerations, affinity and priority of the pods."
    )
    service_account: ServiceAccountSettings = Field(
        ServiceAccountSettings(),
        description="The pods' identity: annotations for workload identity, or an existing ServiceAccount.",
    )
    pod_labels: dict[MetadataKey, LabelValue] = Field(
        {}, description="Extra labels on the pods (never on selectors; the platform's own keys are refused)."
    )
    pod_annotations: dict[MetadataKey, str] = Field({}, description="Extra annotations on the pods.")
    env_from: list[EnvFromSource] = Field(
        [], description="Existing Secrets or ConfigMaps whose keys all become environment variables."
    )
    extra_env: list[ExtraEnv] = Field(
        [], description="Variables from existing Secrets, ConfigMaps or pod fields (`valueFrom`)."
    )
    migration: Migration = Field(
        Migration(),
        description="A database migration (a Job, or a one-shot container on Docker) run before each new image rolls "
        "out.",
    )
    checkpoint_cleanup: CheckpointCleanup = Field(
        CheckpointCleanup(), description="A CronJob deleting old checkpoints."
    )
    init_containers: list[ExtraContainer] = Field(
        [], description="Containers that run to completion before the app starts, hardened like it."
    )
    sidecars: list[ExtraContainer] = Field(
        [], description="Containers beside the app (proxies, log shippers), hardened like it; each needs a `probe`."
    )
    extra_volumes: list[ExtraVolume] = Field(
        [], description="Pod volumes: existing ConfigMaps, Secrets or PVCs, or sized emptyDirs."
    )
    extra_volume_mounts: list[VolumeMountSettings] = Field(
        [], description="Of extraVolumes, mounted in the app container."
    )
    rollout: Rollout = Field(
        Rollout(),
        description="Release strategy: rolling (default), canary, blue-green, or a staged StatefulSet rollout "
        "(partition).",
    )
    database_pool_size: int = Field(
        5,
        ge=1,
        le=500,
        description="Database connections each pod (and its migration and cleanup Jobs) opens at most: the "
        "app's pool size, counted in the connection budget of `postgres` (mode cloudnativepg).",
    )

    def reserved_env(self) -> dict[str, str]:
        """Variables the platform sets on this service's containers, and where each comes from."""
        return {
            **RESERVED_ENV,
            self.connection_env.database: "from postgres, named by `connectionEnv.database`",
            self.connection_env.redis: "from redis, named by `connectionEnv.redis`",
        }

    def url_env(self, store: str) -> str:
        """The variable that carries `store`'s URL (`postgres` or `redis`) for this service."""
        return self.connection_env.database if store == "postgres" else self.connection_env.redis

    def platform_env(self) -> dict[str, str]:
        """Plain variables the platform sets on both platforms: the port, and the drain budget in
        the variable the stack names."""
        env = {"PORT": str(self.port)}
        if self.drain.budget_env:
            env[self.drain.budget_env] = str(self.drain.budget_seconds())
        return env

    def max_pods(self) -> int:
        """Pods running at the autoscaler's maximum (or the fixed count)."""
        return self.autoscaling.max_replicas if self.autoscaling.enabled else self.replicas

    def surge_pods(self) -> int:
        """Extra pods during a rollout: a Deployment surges by one (maxSurge 1); a StatefulSet replaces in place."""
        return 1 if self.kind == "Deployment" else 0

    def min_pods(self) -> int:
        """Pods running at the autoscaler's minimum (or the fixed count)."""
        return self.autoscaling.min_replicas if self.autoscaling.enabled else self.replicas

    @check
    def _coherent(self) -> AgentServiceConfig:
        found = Findings()
        both = set(self.env) & set(self.secret_env)
        if both:
            found(f"env.{sorted(both)[0]}", "is set both in env and in secretEnv")
        reserved = self.reserved_env()
        for i, extra in enumerate(self.extra_env):
            if extra.name in self.env or extra.name in self.secret_env or extra.name in reserved:
                found(f"extraEnv[{i}].name", f"{extra.name!r} is already set (env, secretEnv or the platform)")
        for name in sorted((set(self.env) | set(self.secret_env)) & set(reserved)):
            where = "env" if name in self.env else "secretEnv"
            found(f"{where}.{name}", f"is set by the platform ({reserved[name]}); remove it")
        budget = self.drain.budget_env
        if budget and (
            budget in self.env
            or budget in self.secret_env
            or budget in reserved
            or budget in {e.name for e in self.extra_env}
        ):
            found("drain.budgetEnv", f"{budget!r} is already set (env, secretEnv, extraEnv or the platform)")
        # A StatefulSet's <name>-headless Service (<= 63) allows 54; its pods' revision label 52.
        if self.kind == "StatefulSet" and len(self.name) > STATEFULSET_NAME_MAX:
            found(
                "name",
                f"must be at most {STATEFULSET_NAME_MAX} characters for a StatefulSet ({len(self.name)}: "
                f"{self.name!r}): "
                "its pods' controller-revision-hash label is <name>-<10-character hash> (<= 63)",
            )
        if self.name in self.allow_from:
            found("allowFrom", f"lists the service itself ({self.name!r})")
        if self.pdb.enabled:
            pods = self.min_pods()
            if self.pdb.min_available is not None and self.pdb.min_available >= pods:
                at = "autoscaling.minReplicas" if self.autoscaling.enabled else "replicas"
                found(
                    "pdb.minAvailable",
                    f"must be < {at} ({self.pdb.min_available} >= {pods}): the budget would forbid every voluntary "
                    "disruption",
                )
        if self.persistence.enabled and self.kind != "StatefulSet":
            found("persistence.enabled", "per-pod volumes need kind: StatefulSet")
        # A Job's name is its pods' job-name label (<= 63); a CronJob's leaves 11 for its Jobs' (<= 52).
        for key, alias, suffix, limit in (
            ("migration", "migration", "-migrate-12345678", 63),
            ("checkpoint_cleanup", "checkpointCleanup", "-cleanup", 52),
        ):
            if getattr(self, key).enabled and not self.uses_postgres:
                found(f"{alias}.enabled", "needs usesPostgres: it works on the checkpoint database")
            if getattr(self, key).enabled and len(self.name) + len(suffix) > limit:
                found(
                    "name",
                    f"must be at most {limit - len(suffix)} characters with {alias} enabled (its name is "
                    f"<name>{suffix[:8]}..., at most {limit})",
                )
        a = self.autoscaling
        if a.enabled and a.engine == "keda" and not getattr(self, f"uses_{a.keda.trigger}"):
            found(
                "autoscaling.keda.trigger",
                f"{a.keda.trigger} needs uses{a.keda.trigger.capitalize()}: "
                "the service must use the store it scales on",
            )
        volumes = {v.name for v in self.extra_volumes} | {"tmp"}
        for i, v in enumerate(self.extra_volumes):
            if v.name in [w.name for w in self.extra_volumes[:i]]:
                found(f"extraVolumes[{i}].name", f"duplicate volume {v.name!r}")
        mounts = [("extraVolumeMounts", i, m) for i, m in enumerate(self.extra_volume_mounts)]
        for group in ("initContainers", "sidecars"):
            for j, extra in enumerate(getattr(self, "init_containers" if group == "initContainers" else "sidecars")):
                mounts += [(f"{group}[{j}].volumeMounts", i, m) for i, m in enumerate(extra.volume_mounts)]
                if group == "sidecars" and extra.probe is None:
                    found(f"sidecars[{j}].probe", "is required: a long-running container needs a health check")
        for where, i, m in mounts:
            if m.name not in volumes:
                found(f"{where}[{i}].name", f"{m.name!r} is not a volume of extraVolumes")
        # core validation ValidateVolumeMounts: a container's mount paths are unique; the platform's own
        # (/tmp, and /data with persistence) count.
        taken: dict[str, set[str]] = {}
        for where, i, m in mounts:
            platform = {"/tmp"} | ({"/data"} if where == "extraVolumeMounts" and self.persistence.enabled else set())
            paths = taken.setdefault(where, set(platform))
            if m.mount_path.rstrip("/") in paths:
                owner = "the platform's" if m.mount_path.rstrip("/") in platform else "another mount's"
                found(f"{where}[{i}].mountPath", f"{m.mount_path!r} is already {owner} mount path in this container")
            paths.add(m.mount_path.rstrip("/"))
        names = [x.name for x in self.init_containers + self.sidecars]
        for name in sorted({n for n in names if names.count(n) > 1}):
            found("sidecars", f"container name {name!r} is used twice")
        r = self.rollout
        if r.partition is not None and self.kind != "StatefulSet":
            found("rollout.partition", "only applies to kind: StatefulSet (a Deployment has no ordinals)")
        if r.strategy != "rolling" and self.kind != "Deployment":
            found(
                "rollout.strategy",
                f"{r.strategy} needs kind: Deployment "
                "(a StatefulSet's pods own their volumes; stage it with partition)",
            )
        if r.strategy != "rolling" and len(self.name) > 63 - len(CANARY_SUFFIX):
            found(
                "name",
                f"must be at most {63 - len(CANARY_SUFFIX)} characters with strategy {r.strategy} "
                "(the second Deployment is named <name>-canary / -green)",
            )
        found.raise_any("AgentServiceConfig")
        return self

    def units(self) -> list[ReleaseUnit]:
        """The Deployments or StatefulSets this service runs as, the stable (or active) one first."""
        r, autoscaled = self.rollout, self.autoscaling.enabled
        if r.strategy == "canary":
            assert r.canary is not None
            return [
                ReleaseUnit(self.name, self.image, "stable", autoscaled, self.replicas),
                ReleaseUnit(f"{self.name}{CANARY_SUFFIX}", r.canary.image, "canary", False, r.canary.replicas),
            ]
        if r.strategy == "blueGreen":
            bg = r.blue_green
            assert bg is not None
            images = {"blue": bg.blue_image or self.image, "green": bg.green_image or self.image}
            idle = bg.idle_replicas
            return [
                ReleaseUnit(f"{self.name}-{colour}", images[colour], "active", autoscaled, self.replicas)
                if colour == bg.active
                else ReleaseUnit(
                    f"{self.name}-{colour}",
                    images[colour],
                    "idle",
                    autoscaled and idle is None,
                    self.replicas if idle is None else idle,
                )
                for colour in ("blue", "green")
            ]
        return [ReleaseUnit(self.name, self.image, "stable", autoscaled, self.replicas)]

    def pod_names(self) -> list[str]:
        """The app names (app.kubernetes.io/name) its pods carry: what NetworkPolicies select."""
        return [unit.name for unit in self.units()]

    def canary_unit(self) -> ReleaseUnit | None:
        return next((unit for unit in self.units() if unit.role == "canary"), None)


# --------------------------------------------------------------------------- data stores


# Environment the platform sets on every agent container; a stack's env must not override it.
# The data stores' URLs join it under the names each service gives (reserved_env).
RESERVED_ENV = {
    "PORT": "the port the probes and the Service target, from `port`",
    "METRICS_PORT": "the metrics port, from `monitoring.port`",
}


class DatastoreBase(Model):
    mode: Literal["inCluster", "external"] = Field(
        "inCluster", description="Run it in the namespace, or use a managed instance."
    )
    external_url_key: SecretKey | None = Field(
        None, description="external: secret stack config key that holds the connection URL."
    )
    resources: Resources = Field(
        Resources(requests=ResourceAmounts(cpu="250m", memory="512Mi"), limits=ResourceAmounts(cpu="1", memory="1Gi")),
        description="CPU and memory requests and limits.",
    )
    security_context: SecurityContext = Field(
        SecurityContext(), description="Runs as this non-root identity with a read-only root filesystem."
    )
    persistence: Persistence = Field(
        Persistence(), description="Data volume (volumeClaimTemplates, retained on scale-down and delete)."
    )
    network_policy: NetworkPolicyToggle = Field(
        NetworkPolicyToggle(), description="Accept connections from the agent pods only."
    )
    pdb: Pdb = Field(
        Pdb(enabled=False),
        description="PodDisruptionBudget; a single instance has no replica to fail over to, so off by default.",
    )
    protect: bool = Field(
        True,
        description="Pulumi `protect` + `retainOnDelete` on the data-bearing objects: no destroy or replacement drops "
        "data.",
    )
    scheduling: Scheduling = Field(
        Scheduling(), description="Node selection, tolerations, affinity and priority of the pod."
    )
    pod_labels: dict[MetadataKey, LabelValue] = Field({}, description="Extra labels on the pod (never on selectors).")
    pod_annotations: dict[MetadataKey, str] = Field({}, description="Extra annotations on the pod.")

    @check
    def _mode(self) -> DatastoreBase:
        if self.mode == "external" and not self.external_url_key:
            raise rule("externalUrlKey", "is required when mode is external")
        if self.mode == "inCluster" and self.external_url_key:
            raise rule("externalUrlKey", "only applies when mode is external")
        return self


class ObjectStoreCredentials(Model):
    """How the backup tool authenticates to the object store: an existing Secret, or the pods' identity."""

    secret_name: DnsLabel | None = Field(
        None,
        description="An existing Secret in the namespace with the store's keys (S3: `ACCESS_KEY_ID`, "
        "`ACCESS_SECRET_KEY`; GCS: `APPLICATION_CREDENTIALS`; Azure: `AZURE_STORAGE_CONNECTION_STRING`).",
    )
    workload_identity: bool = Field(
        False,
        description="Use the pods' cloud identity (IRSA, GKE or Azure workload identity) instead of a Secret.",
    )

    @check
    def _one_source(self) -> ObjectStoreCredentials:
        if bool(self.secret_name) == self.workload_identity:
            raise rule("secretName", "set exactly one of secretName or workloadIdentity: true")
        return self


class ObjectStore(Model):
    """An object store for base backups and archived WAL (S3 or S3-compatible, GCS, Azure Blob)."""

    destination_path: str = Field(
        pattern=r"^(s3://|gs://|https://)\S+$",
        description="Where backups go: `s3://bucket/prefix`, `gs://bucket/prefix` or "
        "`https://<account>.blob.core.windows.net/<container>/prefix`.",
    )
    endpoint_url: str | None = Field(
        None, pattern=r"^https?://\S+$", description="S3-compatible stores (MinIO, Ceph): the endpoint URL."
    )
    credentials: ObjectStoreCredentials = Field(description="How the backup tool authenticates.")


class PostgresBackup(Model):
    """Continuous WAL archiving plus scheduled base backups with a retention."""

    enabled: bool = Field(True, description="Archive every WAL segment and take base backups on `schedule`.")
    schedule: CronSchedule = Field(
        "0 2 * * *",
        description="Cron schedule of the base backups (five fields, UTC).",
    )
    retention_days: int = Field(
        30, ge=1, le=3650, description="Base backups (and the WAL they need) are kept this many days."
    )
    store: Literal["volume", "objectStore"] = Field(
        "volume",
        description="`volume`: a backup volume of its own (Docker host); `objectStore`: `objectStore` "
        "(required on Kubernetes, and off the host where the data lives).",
    )
    object_store: ObjectStore | None = Field(None, description="store objectStore: where and how.")
    before_migration: bool = Field(
        True, description="Take a base backup before each migration; the migration waits for it."
    )
    max_age_hours: int = Field(
        26,
        ge=1,
        le=24 * 60,
        description="The last completed base backup may be this old before the health check and alert fail.",
    )

    @check
    def _store(self) -> PostgresBackup:
        if self.store == "objectStore" and self.object_store is None:
            raise rule("objectStore", "is required when store is objectStore")
        if self.store == "volume" and self.object_store is not None:
            raise rule("objectStore", "only applies when store is objectStore")
        return self


class PostgresRestore(Model):
    """Bootstrap the database from its backups instead of empty: to the latest commit or a point in time."""

    enabled: bool = Field(False, description="Create the database by restoring the backups of `backup`.")
    target_time: str | None = Field(
        None,
        description="Restore up to this moment (RFC 3339 with a zone, e.g. `2026-12-03T10:15:00Z`); "
        "unset: every archived commit (the latest).",
    )

    @field_validator("target_time")
    @classmethod
    def _zoned(cls, value: str | None) -> str | None:
        # CloudNativePG's recoveryTarget.targetTime and pgBackRest's --target both take a timestamp
        # with its zone; without one each tool would read it in its own server's zone.
        if value is None:
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise bad("target_time", "must be an RFC 3339 time such as 2026-12-03T10:15:00Z", value) from None
        if moment.tzinfo is None:
            raise bad("target_time", "needs a time zone (a trailing Z for UTC, or +01:00)", value)
        return value


class PostgresPooler(Model):
    """PgBouncer in front of the CloudNativePG cluster (a `Pooler`, type rw): the app's stable endpoint."""

    enabled: bool = Field(True, description="Clients connect through PgBouncer (`<cluster>-pooler-rw`).")
    instances: int = Field(2, ge=1, le=20, description="PgBouncer pods (2+ so a drained node keeps the endpoint).")
    pool_mode: Literal["transaction", "session"] = Field(
        "transaction",
        description="`transaction`: a server connection per transaction (many clients share few); "
        "`session`: one per client connection, for apps that keep session state (advisory locks, SET).",
    )
    default_pool_size: int = Field(
        90,
        ge=1,
        le=10000,
        description="Server connections each PgBouncer pod opens to the primary (per database and user).",
    )
    max_client_conn: int = Field(1000, ge=1, le=100000, description="Client connections each PgBouncer pod accepts.")


class RestoreDrill(Model):
    """A CronJob that restores the latest backup into a throwaway Cluster, checks it, reports and deletes it."""

    enabled: bool = Field(True, description="Run the drill on `schedule` (mode cloudnativepg with backups).")
    schedule: CronSchedule = Field("0 5 * * 0", description="Cron schedule of the drill (five fields, UTC).")
    image: Image = Field(
        "registry.k8s.io/kubectl:v1.31.2@sha256:d31de5468fb5c0943358671e3dcf8e4d8281108027efd1f211262d09aedd5519",
        description="Pinned kubectl image (each drill step is one kubectl command; no shell needed).",
    )
    check_sql: str = Field(
        "SELECT count(*) FROM pg_catalog.pg_tables",
        min_length=1,
        description="SQL run against the restored database as its owner; the drill fails when it errors.",
    )
    timeout_minutes: int = Field(
        120, ge=10, le=1440, description="Give up (fail the drill and clean up) after this long."
    )


# What CloudNativePG gives a PgBouncer pod when the Pooler's template sets none (its defaults are unset:
# counted here at a modest reservation so the derived quota leaves room for them).
POOLER_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="100m", memory="64Mi"), limits=ResourceAmounts(cpu="500m", memory="256Mi")
)

# Each step of the restore drill's pod (kubectl, then psql): the pod's amounts, one step at a time.
DRILL_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="50m", memory="64Mi"), limits=ResourceAmounts(cpu="500m", memory="256Mi")
)

# The Barman Cloud plugin's sidecar in each instance pod (ObjectStore spec.instanceSidecarConfiguration,
# plugin-barman-cloud v0.14.0 api/v1/objectstore_types.go:40-42): it compresses and uploads each WAL
# segment and base backups; set so it never takes the LimitRange's defaults unseen by the quota.
BARMAN_SIDECAR_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="100m", memory="256Mi"), limits=ResourceAmounts(cpu="1", memory="512Mi")
)

# Connections Postgres keeps for superusers (superuser_reserved_connections' default): never the app's.
SUPERUSER_RESERVED_CONNECTIONS = 3


def official_postgres_image(image: str) -> bool:
    """Docker Hub's official image (`postgres`, `library/postgres`, `docker.io/library/postgres`)."""
    name = image.split("@", 1)[0]
    repository = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    return repository in ("postgres", "library/postgres", "docker.io/library/postgres", "docker.io/postgres")


class PostgresConfig(DatastoreBase):
    mode: Literal["inCluster", "external", "cloudnativepg"] = Field(
        "inCluster",
        description="Run it in the namespace (a StatefulSet), use a managed instance, or a CloudNativePG "
        "`Cluster` (failover, synchronous replication, WAL archive, point-in-time restore; the operator "
        "and the Barman Cloud plugin are cluster prerequisites).",
    )
    image: Image = Field(
        "postgres:16.4-alpine@sha256:5660c2cbfea50c7a9127d17dc4e48543eedd3d7a41a595a2dfa572471e37e64c",
        description="Pinned Postgres image (tag and digest).",
    )
    database: DnsLabel = Field("agent", description="Database created at first start.")
    user: DnsLabel = Field("agent", description="Owner role of the database.")
    backup: PostgresBackup = Field(
        PostgresBackup(enabled=False),
        description="Backups and point-in-time recovery (off until a component implements them for the mode).",
    )
    restore: PostgresRestore = Field(PostgresRestore(), description="Point-in-time restore from `backup`.")
    instances: int = Field(
        3, ge=1, le=9, description="cloudnativepg: Postgres instances, one primary and hot standbys in other zones."
    )
    synchronous_standbys: int = Field(
        1,
        ge=0,
        le=8,
        description="cloudnativepg: a commit waits for this many standbys (quorum, method any); 0: asynchronous.",
    )
    max_connections: int = Field(
        200, ge=10, le=10000, description="cloudnativepg: Postgres `max_connections` (3 are kept for superusers)."
    )
    pooler: PostgresPooler = Field(PostgresPooler(), description="cloudnativepg: PgBouncer in front of the primary.")
    operator_namespace: DnsLabel = Field(
        "cnpg-system", description="cloudnativepg: namespace of the operator (its NetworkPolicy peer)."
    )
    restore_drill: RestoreDrill = Field(RestoreDrill(), description="cloudnativepg: the scheduled restore drill.")
    major_upgrade_from: int | None = Field(
        None,
        ge=10,
        le=99,
        description="cloudnativepg: the major version the Cluster runs now, set in the same change that moves "
        "`image` to a later major. `pulumi up` then takes an awaited Backup of the old major before the operator's "
        "offline in-place upgrade (pg_upgrade); without it the preview refuses a major change. Remove it afterwards "
        "(docs/day-2.md).",
    )

    def image_major(self) -> int | None:
        """The major version in the image's tag (`postgresql:17.2@sha256:..` -> 17), None when the tag has none."""
        name = self.image.split("@", 1)[0]
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
        match = re.match(r"^(\d+)", tag)
        return int(match.group(1)) if match else None

    @check
    def _cloudnativepg(self) -> PostgresConfig:
        if self.major_upgrade_from is not None:
            if self.mode != "cloudnativepg":
                raise rule(
                    "majorUpgradeFrom",
                    f"{self.major_upgrade_from} is for mode cloudnativepg (the operator's in-place upgrade); mode "
                    f"{self.mode!r} upgrades by dump and restore (docs/day-2.md)",
                )
            if not self.backup.enabled:
                raise rule("majorUpgradeFrom", "needs backup.enabled: the old major is backed up before the upgrade")
            target = self.image_major()
            if target is not None and target <= self.major_upgrade_from:
                raise rule(
                    "majorUpgradeFrom",
                    f"{self.major_upgrade_from} must be below the image's major ({target}, image {self.image!r}): "
                    "a major upgrade goes forward only; remove majorUpgradeFrom when the image stays on its major",
                )
        if self.mode != "cloudnativepg":
            return self
        if self.synchronous_standbys >= self.instances:
            raise rule(
                "synchronousStandbys",
                f"{self.synchronous_standbys} must be below instances ({self.instances}): the primary is not a standby",
            )
        if self.backup.enabled and self.backup.store != "objectStore":
            raise rule(
                "backup.store", "must be objectStore in mode cloudnativepg (the Barman Cloud plugin archives there)"
            )
        if self.restore.enabled and not (self.backup.enabled and self.backup.object_store):
            raise rule("restore.enabled", "needs backup.enabled with an objectStore to restore from")
        return self

    def connection_capacity(self) -> list[tuple[str, int, str]]:
        """What each hop accepts: (stack key, connections, what it is), for the connection budget."""
        usable = self.max_connections - SUPERUSER_RESERVED_CONNECTIONS
        if not self.pooler.enabled:
            return [
                (
                    "postgres.maxConnections",
                    usable,
                    f"max_connections {self.max_connections} minus {SUPERUSER_RESERVED_CONNECTIONS} superuser-reserved",
                )
            ]
        p = self.pooler
        clients = p.max_client_conn if p.pool_mode == "transaction" else p.default_pool_size
        key = "postgres.pooler.maxClientConn" if p.pool_mode == "transaction" else "postgres.pooler.defaultPoolSize"
        return [
            (
                key,
                clients,
                f"what one PgBouncer pod accepts in {p.pool_mode} mode (the Service may send it every client)",
            )
        ]


class RedisConfig(DatastoreBase):
    image: Image = Field(
        "redis:7.4.1-alpine@sha256:c1e88455c85225310bbea54816e9c3f4b5295815e6dbf80c34d40afc6df28275",
        description="Pinned Redis image (tag and digest).",
    )
    append_only: bool = Field(True, description="AOF persistence (`appendonly yes`).")
    maxmemory: PositiveQuantity = Field(
        "256Mi",
        description="`maxmemory`; keep it below the memory limit (0 would mean unlimited in Redis, so it is refused).",
    )
    maxmemory_policy: (
        Literal[
            "noeviction",
            "allkeys-lru",
            "volatile-lru",
            "allkeys-lfu",
            "volatile-lfu",
            "allkeys-random",
            "volatile-random",
            "volatile-ttl",
        ]
        | None
    ) = Field(
        None,
        description="Eviction policy at maxmemory; unset: `noeviction` when Redis holds queues (`holdsQueues`, or a "
        "service's KEDA trigger is redis: an evicted list is a lost run), else `allkeys-lru` (a cache).",
    )
    holds_queues: bool = Field(
        False,
        description="Redis holds queues or is the broker (lists/streams that must not be evicted): an `allkeys-*` "
        "policy is refused. A service whose KEDA trigger is redis implies it.",
    )

    def eviction_policy(self, queues: bool = False) -> str:
        """The policy redis-server runs with: as set, else the safe one for what it holds."""
        return self.maxmemory_policy or ("noeviction" if queues or self.holds_queues else "allkeys-lru")

    @check
    def _fits(self) -> RedisConfig:
        if self.holds_queues:
            check_eviction(self.maxmemory_policy, "holdsQueues is true", "maxmemoryPolicy")
        if self.mode == "inCluster" and quantity_value(self.maxmemory) >= quantity_value(self.resources.limits.memory):
            raise rule(
                "maxmemory",
                f"must be below resources.limits.memory ({self.maxmemory} >= {self.resources.limits.memory}) or Redis "
                "is OOM-killed before it evicts",
            )
        return self


def check_eviction(policy: str | None, why: str, at: str) -> None:
    """An allkeys-* policy evicts any key at maxmemory, queued runs included: refused when Redis holds queues."""
    if policy and policy.startswith("allkeys-"):
        raise rule(
            at,
            f"{policy!r} evicts any key at maxmemory, queued runs included ({why}): use `noeviction` (writes fail "
            "loudly when full), or `volatile-lru`/`volatile-lfu`/`volatile-ttl` with TTLs only on cache keys",
        )


# --------------------------------------------------------------------------- edge, network, namespace, cluster


class Tls(Model):
    mode: Literal["certManager", "secret", "none"] = Field(
        "certManager", description="`certManager` issues the certificate; `secret` uses an existing TLS Secret."
    )
    cluster_issuer: ObjectName | None = Field(None, description="certManager: ClusterIssuer name.")
    secret_name: DnsLabel | None = Field(
        None, description="TLS Secret name (secret mode: existing; certManager: where the certificate lands)."
    )

    @check
    def _complete(self) -> Tls:
        if self.mode == "certManager" and not self.cluster_issuer:
            raise rule("clusterIssuer", "is required when mode is certManager")
        if self.mode == "secret" and not self.secret_name:
            raise rule("secretName", "is required when mode is secret")
        return self


class IngressConfig(Model):
    enabled: bool = Field(True, description="Declare the Ingress.")
    class_name: ObjectName = Field("nginx", description="IngressClass name (a DNS subdomain).")
    skip_await: bool = Field(
        True,
        description="Annotate the Ingress `pulumi.com/skipAwait`: many controllers never publish a load-balancer "
        "status, and the provider would wait 10 minutes for it, then fail. Set false where the controller "
        "does publish it.",
    )
    host: DnsName | None = Field(None, description="Public host name.")
    tls: Tls = Field(Tls(mode="certManager", cluster_issuer="letsencrypt"), description="TLS termination.")
    stream_timeout_seconds: int = Field(
        3600, ge=3600, le=86400, description="Proxy read/send timeout; streamed LLM responses last minutes."
    )
    max_body_size: str = Field(
        "50m",
        pattern=r"^[1-9]\d*[kKmMgG]?$",
        description="Largest request body, nginx size syntax (`proxy-body-size` / `client_max_body_size`, e.g. `50m`).",
    )

    @check
    def _host(self) -> IngressConfig:
        if self.enabled and not self.host:
            raise rule("host", "is required when the ingress is enabled")
        return self


class EgressRule(Model):
    cidr: Cidr = Field(description="Destination CIDR.")
    except_cidrs: list[Cidr] = Field([], description="CIDRs carved out of `cidr` (e.g. the cluster's private ranges).")
    ports: list[Port] = Field([443], min_length=1, description="TCP ports.")

    @check
    def _inside(self) -> EgressRule:
        outer = ipaddress.ip_network(self.cidr)
        for i, inner in enumerate(self.except_cidrs):
            if not ipaddress.ip_network(inner).subnet_of(outer):  # type: ignore[arg-type]
                raise rule(f"exceptCidrs[{i}]", f"{inner} is not inside {self.cidr}")
        return self


class NetworkConfig(Model):
    ingress_controller_namespace: DnsLabel = Field(
        "ingress-nginx",
        description="Namespace of the ingress controller allowed to reach the exposed services (exposure `ingress`; "
        "a Gateway's data plane: gateway.dataPlaneNamespace).",
    )
    dns_namespace: DnsLabel = Field("kube-system", description="Namespace of cluster DNS.")
    node_local_dns: Ipv4Address | None = Field(
        None,
        description="Address of NodeLocal DNSCache (usually `169.254.20.10`): pods' DNS queries go to a host-network "
        "agent there, which a pod selector cannot match, so DNS egress to it is allowed by address.",
    )
    egress: list[EgressRule] = Field(
        [
            EgressRule(
                cidr="0.0.0.0/0",
                except_cidrs=["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"],
                ports=[443],
            )
        ],
        description="Egress the agent pods may open (LLM and tool APIs); private ranges are excluded by default.",
    )


class Quota(Model):
    """Unset amounts are derived from the worst case (StackConfig.worst_case); set ones must hold it."""

    cpu: Quantity | None = Field(
        None,
        description="requests.cpu for the namespace; unset: the worst case (every service at its maximum, plus rollout "
        "surge and data stores).",
    )
    memory: Quantity | None = Field(None, description="requests.memory; unset: the worst case.")
    limits_cpu: Quantity | None = Field(None, description="limits.cpu; unset: the worst case.")
    limits_memory: Quantity | None = Field(None, description="limits.memory; unset: the worst case.")
    storage: Quantity | None = Field(
        None, description="requests.storage; unset: the worst case (every claim of every pod at its maximum)."
    )
    pods: int | None = Field(None, ge=1, description="Pods in the namespace; unset: the worst case.")


class LimitRangeConfig(Model):
    default_cpu: Quantity = Field("500m", description="Limit for containers that set none.")
    default_memory: Quantity = Field("512Mi", description="Limit for containers that set none.")
    default_request_cpu: Quantity = Field("100m", description="Request for containers that set none.")
    default_request_memory: Quantity = Field("128Mi", description="Request for containers that set none.")

    @check
    def _request_within_limit(self) -> LimitRangeConfig:
        # core validation ValidateLimitRange: a default request above its default limit is refused.
        found = Findings()
        for resource in ("cpu", "memory"):
            request = getattr(self, f"default_request_{resource}")
            limit = getattr(self, f"default_{resource}")
            if quantity_value(request) > quantity_value(limit):
                found(
                    f"defaultRequest{resource.capitalize()}",
                    f"must be <= default{resource.capitalize()} ({request} > {limit})",
                )
        found.raise_any("LimitRangeConfig")
        return self


class NamespaceConfig(Model):
    name: DnsLabel = Field(description="Namespace holding the whole stack (never `default`).")
    pod_security: Literal["restricted", "baseline"] = Field(
        "restricted", description="Pod Security Admission level enforced."
    )
    quota: Quota = Field(Quota(), description="ResourceQuota.")
    limit_range: LimitRangeConfig = Field(LimitRangeConfig(), description="LimitRange defaults.")

    @check
    def _not_default(self) -> NamespaceConfig:
        if self.name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            raise rule("name", f"must not be the system namespace {self.name!r}")
        return self


class KubernetesConfig(Model):
    context: str = Field(
        min_length=1, description="kubeconfig context of the target cluster; the explicit provider uses only this."
    )
    kubeconfig: str | None = Field(
        None, description="Path to a kubeconfig file; unset uses $KUBECONFIG or ~/.kube/config."
    )
    cluster_stack: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        description="`org/project/stack` of the stack that created the cluster: its `kubeconfig` output (a secret) is "
        "the provider's kubeconfig, read through a StackReference; instead of `kubeconfig`.",
    )
    cluster_domain: DnsName = Field(
        "cluster.local",
        description="The cluster's DNS domain (kubelet `clusterDomain`), in the data stores' host names.",
    )

    @check
    def _one_source(self) -> KubernetesConfig:
        if self.cluster_stack and self.kubeconfig:
            raise rule("clusterStack", "set either clusterStack or kubeconfig, not both")
        return self


class ProxyConfig(Model):
    image: Image = Field(
        "nginxinc/nginx-unprivileged:1.27-alpine@sha256:65e3e85dbaed8ba248841d9d58a899b6197106c23cb0ff1a132b7bfe0547e4c0",
        description="Reverse proxy image (non-root nginx, listens on 8080).",
    )
    host_port: Port = Field(8080, description="Host port the proxy is published on.")
    bind_address: IpAddress = Field(
        "127.0.0.1", description="Host address the port binds to; loopback unless you mean to expose it."
    )
    resources: Resources = Field(
        Resources(
            requests=ResourceAmounts(cpu="100m", memory="64Mi"), limits=ResourceAmounts(cpu="500m", memory="128Mi")
        ),
        description="CPU and memory limits of the proxy.",
    )


class DockerBackupConfig(Model):
    """pgBackRest on the Docker host, when `postgres.backup` is enabled there.

    Postgres runs `archive_command` inside its own container, so `postgres.image` must contain
    pgbackrest; the backup containers run that same image, since pgBackRest wants one version on
    both sides of a repository.
    """

    archive_timeout_seconds: int = Field(
        60,
        ge=1,
        le=3600,
        description="Postgres `archive_timeout`: a WAL segment is closed and archived at least this often under "
        "any write load, which bounds the commits at risk (RPO) when the disk is lost.",
    )
    compress_type: Literal["lz4", "zst", "gz", "none"] = Field(
        "lz4", description="pgBackRest `compress-type` of the repository (lz4: fastest restore)."
    )
    resources: Resources = Field(
        Resources(requests=ResourceAmounts(cpu="100m", memory="64Mi"), limits=ResourceAmounts(cpu="1", memory="256Mi")),
        description="CPU and memory limits of the backup containers (the scheduler and the one-shot base backup).",
    )


class DockerConfig(Model):
    backup: DockerBackupConfig = Field(
        DockerBackupConfig(), description="Backups of Postgres on this host (pgBackRest; `postgres.backup`)."
    )
    host: str = Field("unix:///var/run/docker.sock", description="Docker daemon address (`DOCKER_HOST` form).")
    proxy: ProxyConfig = Field(ProxyConfig(), description="The nginx reverse proxy in front of the app replicas.")
    postgres_user: str = Field(
        "70:70",
        pattern=r"^[1-9]\d*:[1-9]\d*$",
        description="UID:GID Postgres runs as (the alpine image's `postgres` user owns its data dir).",
    )
    redis_user: str = Field(
        "999:1000",
        pattern=r"^[1-9]\d*:[1-9]\d*$",
        description="UID:GID Redis runs as (the alpine image's `redis` user).",
    )


class Availability(Model):
    topology_spread: bool = Field(True, description="Spread agent pods across zones (topologySpreadConstraints).")
    pod_anti_affinity: bool = Field(True, description="Prefer one agent pod per node.")


class SecretStoreRef(Model):
    name: ObjectName = Field(description="The SecretStore or ClusterSecretStore (External Secrets Operator).")
    kind: Literal["SecretStore", "ClusterSecretStore"] = Field("ClusterSecretStore", description="Its kind.")


class SecretsSettings(Model):
    """Where the secrets the services name come from."""

    mode: Literal["pulumi", "existing", "externalSecrets"] = Field(
        "pulumi",
        description="`pulumi`: each key is a secret stack config value (`pulumi config set --secret`), put into "
        "Secrets this stack manages; `existing`: each key is a key of `existingSecret`, a Secret the team "
        "manages elsewhere, which the pods read directly; `externalSecrets`: as existing, and that Secret "
        "is declared here as an ExternalSecret (External Secrets Operator) fetching each key from `secretStoreRef`.",
    )
    existing_secret: ObjectName = Field(
        "agent-platform-secrets",
        description="existing, externalSecrets: the Secret in the namespace holding every key that `secretEnv` and "
        "`externalUrlKey` name.",
    )
    secret_store_ref: SecretStoreRef | None = Field(
        None, description="externalSecrets: the store the keys are fetched from."
    )
    remote_key_prefix: str = Field(
        "", description="externalSecrets: prefix of each key's name in the store (`agents/prod/`)."
    )
    refresh_interval: str = Field(
        "1h",
        pattern=r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$",
        description="externalSecrets: how often the operator re-reads the store.",
    )

    @check
    def _store(self) -> SecretsSettings:
        if self.mode == "externalSecrets" and self.secret_store_ref is None:
            raise rule("secretStoreRef", "is required when mode is externalSecrets")
        if self.mode != "externalSecrets" and self.secret_store_ref is not None:
            raise rule("secretStoreRef", "only applies when mode is externalSecrets")
        return self


class GatewayRef(Model):
    name: ObjectName = Field(description="The Gateway the HTTPRoute attaches to (managed by the platform team).")
    namespace: DnsLabel | None = Field(None, description="Its namespace; unset: the stack's namespace.")
    section_name: DnsLabel = Field(
        description="Its HTTPS listener: the route attaches there only, so traffic is always TLS (the certificate is "
        "the Gateway's)."
    )
    data_plane_namespace: DnsLabel | None = Field(
        None,
        description="Namespace of the Gateway's data plane (its proxy pods), the only one the backends' "
        "NetworkPolicy admits; unset: the Gateway's namespace, where Istio, NGINX Gateway Fabric, kgateway and "
        "Contour's provisioner run them. Envoy Gateway runs them in its own namespace (`envoy-gateway-system`) "
        "unless its GatewayNamespace mode is on: set it then.",
    )


class AlertThresholds(Model):
    """The five alerts of the LangGraph deployment notes, adapted to this stack's metrics."""

    error_rate_percent: float = Field(5, gt=0, le=100, description="5xx responses, percent of requests over 5 minutes.")
    p95_latency_seconds: float = Field(
        30, gt=0, description="95th percentile request duration over 5 minutes (streams are long)."
    )
    memory_percent_of_limit: int = Field(90, ge=1, le=100, description="Working set against the memory limit.")
    db_pool_exhausted_minutes: int = Field(5, ge=1, le=60, description="Minutes with every database connection in use.")
    crash_loop_restarts: int = Field(3, ge=1, description="Container restarts within 15 minutes.")


class Monitoring(Model):
    """Prometheus scraping of the app's metrics port and the alert rules (Prometheus Operator CRDs, opt-in)."""

    enabled: bool = Field(False, description="Expose the metrics port to the monitoring namespace and have it scraped.")
    namespace: DnsLabel = Field(
        "monitoring", description="Namespace of Prometheus: the only one the NetworkPolicy admits to the metrics port."
    )
    port: Port = Field(
        9090,
        description="The app's metrics port (the app contract: `METRICS_PORT`, GET /metrics, Prometheus text format).",
    )
    path: str = Field("/metrics", pattern=r"^/", description="Path of the metrics.")
    service_monitor: bool = Field(
        True,
        description="A ServiceMonitor (monitoring.coreos.com/v1); false: `prometheus.io/*` scrape annotations on the "
        "pods, for a Prometheus without the operator.",
    )
    prometheus_rule: bool = Field(True, description="A PrometheusRule with the alerts (needs the operator).")
    alerts: AlertThresholds = Field(AlertThresholds(), description="Alert thresholds.")

    @check
    def _operator(self) -> Monitoring:
        if self.prometheus_rule and not self.service_monitor and self.enabled:
            raise rule("prometheusRule", "needs the Prometheus Operator, as serviceMonitor does: set both, or neither")
        return self


DOCKER_MIN_MEMORY = 6 * 2**20


class StackConfig(Model):
    environment: DnsLabel = Field(description="Environment name (labels, policy config): e.g. `dev`, `prod`.")
    platform: Literal["kubernetes", "docker"] = Field(
        "kubernetes", description="Target: a Kubernetes cluster or a Docker host."
    )
    kubernetes: KubernetesConfig | None = Field(None, description="Cluster to deploy to (platform kubernetes).")
    namespace: NamespaceConfig | None = Field(None, description="Namespace and its guard rails (platform kubernetes).")
    services: list[AgentServiceConfig] = Field(min_length=1, description="Agent API services (one per graph or API).")
    postgres: PostgresConfig = Field(PostgresConfig(), description="Checkpoint store.")
    redis: RedisConfig = Field(RedisConfig(), description="Cache, queues and stream resumption.")
    ingress: IngressConfig = Field(
        IngressConfig(enabled=False), description="External HTTPS entry (platform kubernetes)."
    )
    network: NetworkConfig = Field(NetworkConfig(), description="NetworkPolicy peers (platform kubernetes).")
    availability: Availability = Field(Availability(), description="Placement of agent pods.")
    docker: DockerConfig | None = Field(None, description="Docker host settings (platform docker).")
    registry: str | None = Field(
        None,
        pattern=r"^(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+)(:\d{1,5})?(/[a-z0-9._-]+)*$",
        description="Registry (and path) put before every image given without one (`postgres:16`, `acme/agent:1.2`): a "
        "private mirror, e.g. `registry.example.com/mirror`.",
    )
    image_pull_secrets: list[ObjectName] = Field(
        [],
        description="Existing docker-registry Secrets in the namespace that every pod pulls with "
        "(platform kubernetes).",
    )
    monitoring: Monitoring = Field(Monitoring(), description="Metrics scraping and alert rules (platform kubernetes).")
    exposure: Literal["ingress", "gatewayApi"] = Field(
        "ingress",
        description="How external traffic enters: an Ingress (`ingress`), or an HTTPRoute on an existing Gateway "
        "(`gatewayApi`); `ingress` settings (host, timeouts, body size) apply to both.",
    )
    gateway: GatewayRef | None = Field(None, description="gatewayApi: the Gateway and its HTTPS listener.")
    secrets: SecretsSettings = Field(
        SecretsSettings(),
        description="Where API keys and external data-store URLs come from (in-cluster data stores always generate "
        "their password).",
    )
    labels: dict[MetadataKey, LabelValue] = Field(
        {}, description="Labels added to every object (cost centre, team); the platform's own keys are refused."
    )
    annotations: dict[MetadataKey, str] = Field({}, description="Annotations added to every object.")

    def redis_queue_services(self) -> list[int]:
        """Indexes of the services whose run queue is a Redis list (KEDA trigger redis)."""
        return [
            i
            for i, s in enumerate(self.services)
            if s.autoscaling.enabled and s.autoscaling.engine == "keda" and s.autoscaling.keda.trigger == "redis"
        ]

    def redis_settings(self) -> RedisConfig:
        """Redis as it runs: the eviction policy resolved for what this stack keeps in it."""
        policy = self.redis.eviction_policy(bool(self.redis_queue_services()))
        return self.redis.model_copy(update={"maxmemory_policy": policy})

    @check
    def _stack(self) -> StackConfig:
        found = Findings()
        queued = self.redis_queue_services()
        if queued and self.redis.mode == "inCluster":
            i = queued[0]
            try:
                check_eviction(
                    self.redis.maxmemory_policy,
                    f"services[{i}].autoscaling.keda.trigger is redis: "
                    f"its list {self.services[i].autoscaling.keda.list_name!r} is the run queue",
                    "redis.maxmemoryPolicy",
                )
            except PydanticCustomError as error:
                found.errors.append(error)  # reported with the stack's other findings
        names = [s.name for s in self.services]
        for i, name in enumerate(names):
            if name in names[:i]:
                found(f"services[{i}].name", f"duplicate service name {name!r}")
            if name in ("postgres", "redis"):
                found(f"services[{i}].name", f"{name!r} is taken by the data store")
        if self.platform == "docker" and self.postgres.mode == "inCluster":
            backup = self.postgres.backup
            if backup.enabled and backup.store == "objectStore":
                found(
                    "postgres.backup.store",
                    "objectStore is not implemented on the Docker platform yet (the Postgres network has no "
                    "route out); use store volume and copy the repository off the host (docs/backups-docker.md)",
                )
            if self.postgres.restore.enabled:
                found(
                    "postgres.restore.enabled",
                    "a Docker host restores with `tools/restore-docker.sh --to latest|<RFC 3339 time>`, "
                    "not a stack setting (docs/backups-docker.md)",
                )
            if backup.enabled and not self.postgres.persistence.enabled:
                found("postgres.backup.enabled", "needs postgres.persistence.enabled (a data volume to back up)")
            if backup.enabled and official_postgres_image(self.postgres.image):
                # Postgres runs pgbackrest as its archive_command: with the official image every WAL
                # segment's archiving fails, WAL piles up on the volume and no backup is ever taken.
                found(
                    "postgres.image",
                    f"{self.postgres.image!r} is the official image, which has no pgbackrest (postgres.backup "
                    "runs it): build images/postgres-pgbackrest from it and set that image here "
                    "(docs/backups-docker.md)",
                )
        if self.platform == "kubernetes":
            for key in ("kubernetes", "namespace"):
                if getattr(self, key) is None:
                    found(key, "is required when platform is kubernetes")
            if self.docker is not None:
                found("docker", "only applies when platform is docker")
            routed = [i for i, s in enumerate(self.services) if s.ingress.enabled]
            if self.ingress.enabled and not routed:
                found("ingress.enabled", "no service has ingress.enabled: nothing to route")
            if self.exposure == "gatewayApi" and self.gateway is None:
                found("gateway", "is required when exposure is gatewayApi")
            if self.exposure != "gatewayApi" and self.gateway is not None:
                found("gateway", "only applies when exposure is gatewayApi")
            if self.exposure == "gatewayApi" and self.gateway is not None:
                self._check_gateway_data_plane(found)
            taken = {s.name: i for i, s in enumerate(self.services)}
            for i, s in enumerate(self.services):
                if s.rollout.strategy == "canary" and not (self.ingress.enabled and s.ingress.enabled):
                    found(
                        f"services[{i}].rollout.strategy",
                        "canary splits external traffic at the Ingress: it needs ingress.enabled and the service's "
                        "ingress.enabled",
                    )
                for unit in s.pod_names()[1:] if s.rollout.strategy == "canary" else s.pod_names():
                    if unit in taken and unit != s.name:
                        found(
                            f"services[{i}].rollout.strategy",
                            f"its Deployment {unit!r} would clash with service {unit!r}",
                        )
            self._check_kubernetes_names(found)
            if self.namespace is not None:
                self._check_quota(found)
            if self.postgres.mode == "cloudnativepg":
                self._check_connection_budget(found)
        else:
            # A Docker host has no cluster, namespace, Ingress or autoscaler: such keys mean a mixed-up stack file.
            for key in ("kubernetes", "namespace"):
                if getattr(self, key) is not None:
                    found(key, "only applies when platform is kubernetes")
            if self.ingress.enabled:
                found("ingress.enabled", "only applies when platform is kubernetes (Docker uses docker.proxy)")
            if self.secrets.mode != "pulumi":
                found(
                    "secrets.mode",
                    "only `pulumi` applies when platform is docker (a Docker host has no Secrets to read)",
                )
            if self.image_pull_secrets:
                found(
                    "imagePullSecrets",
                    "only applies when platform is kubernetes (a Docker host pulls with its own `docker login`)",
                )
            for i, s in enumerate(self.services):
                if s.rollout != type(s).model_fields["rollout"].default:
                    found(
                        f"services[{i}].rollout",
                        "only applies when platform is kubernetes (a Docker host replaces containers one by one)",
                    )
                for key, alias in (
                    ("scheduling", "scheduling"),
                    ("service_account", "serviceAccount"),
                    ("env_from", "envFrom"),
                    ("extra_env", "extraEnv"),
                    ("init_containers", "initContainers"),
                    ("sidecars", "sidecars"),
                    ("extra_volumes", "extraVolumes"),
                    ("extra_volume_mounts", "extraVolumeMounts"),
                    ("checkpoint_cleanup", "checkpointCleanup"),
                ):
                    if getattr(s, key) != type(s).model_fields[key].default:
                        found(f"services[{i}].{alias}", "only applies when platform is kubernetes")
            for i, s in enumerate(self.services):
                if s.autoscaling.enabled:
                    found(
                        f"services[{i}].autoscaling.enabled",
                        "a Docker host has no autoscaler: set it to false and use replicas",
                    )
            if not any(s.ingress.enabled for s in self.services):
                found("services", "no service has ingress.enabled: the proxy has nothing to route")
            # Docker refuses a container memory limit under 6 MiB (moby daemon/daemon_unix.go
            # linuxMinMemory: "Minimum memory limit allowed is 6MB").
            docker = self.docker_settings()
            limited = [(f"services[{i}].resources", s.resources) for i, s in enumerate(self.services)]
            limited += [("docker.proxy.resources", docker.proxy.resources)]
            limited += [("docker.backup.resources", docker.backup.resources)]
            limited += [
                (f"{k}.resources", getattr(self, k).resources)
                for k in ("postgres", "redis")
                if getattr(self, k).mode == "inCluster"
            ]
            for where, resources in limited:
                if quantity_value(resources.limits.memory) < DOCKER_MIN_MEMORY:
                    found(
                        f"{where}.limits.memory",
                        f"Docker's minimum memory limit is 6Mi, got {resources.limits.memory!r}",
                    )
        found.raise_any("StackConfig")
        return self

    def _check_gateway_data_plane(self, found: Findings) -> None:
        # The backends admit the Gateway's data plane by its namespace; ingressControllerNamespace names an
        # Ingress controller's, which a Gateway's proxies need not share.
        if "ingress_controller_namespace" in self.network.model_fields_set:
            found(
                "network.ingressControllerNamespace",
                f"applies to exposure ingress, got {self.network.ingress_controller_namespace!r}; with gatewayApi the "
                "backends admit gateway.dataPlaneNamespace (default: gateway.namespace): set that instead",
            )
        gateway = self.gateway
        assert gateway is not None
        if gateway.data_plane_namespace is None and gateway.namespace is None:
            found(
                "gateway.dataPlaneNamespace",
                "is required when gateway.namespace is unset: name the namespace the Gateway's proxy pods run in "
                "(the backends admit only that one; the stack's own namespace would admit every pod in it)",
            )

    def gateway_data_plane_namespace(self) -> str:
        """Where the Gateway's data plane runs: as set, else the Gateway's namespace (validated to be one)."""
        gateway = self.gateway
        assert gateway is not None
        return gateway.data_plane_namespace or gateway.namespace or ""

    def _check_kubernetes_names(self, found: Findings) -> None:
        names = {s.name for s in self.services}
        seen: dict[str, str] = {}
        for i, s in enumerate(self.services):
            # app.kubernetes.io/instance = <name>-<environment>, a label value (<= 63).
            instance = f"{s.name}-{self.environment}"
            if len(instance) > 63:
                found(
                    f"services[{i}].name",
                    f"with the environment, the instance label {instance!r} exceeds 63 characters ({len(instance)})",
                )
            for j, peer in enumerate(s.allow_from):
                if peer not in names:
                    found(f"services[{i}].allowFrom[{j}]", f"{peer!r} is not a service of this stack")
            if not s.ingress.enabled:
                continue
            # nginx refuses duplicate locations and the Ingress would hold ambiguous rules.
            for j, path in enumerate(s.ingress.paths):
                if path in seen:
                    found(f"services[{i}].ingress.paths[{j}]", f"{path!r} is already routed to {seen[path]!r}")
                seen[path] = s.name

    def worst_case(self) -> dict[str, float]:
        """What the namespace holds at worst, by the arithmetic of Kubernetes' quota admission: each pod
        counts its effective requests and limits (pod_amounts), times every unit's maximum pods
        (autoscaler maximum, canary and colours), plus, per service, the larger of a Deployment's
        rollout surge pod and its migration Job's pod (the migration runs before the rollout), plus
        the cleanup CronJob's pod (concurrencyPolicy Forbid: one at a time) and the in-cluster data
        stores (one pod each, replaced in place). Keys are ResourceQuota `spec.hard` names; cpu in
        cores, the rest in bytes or counts."""
        total = {
            "requests.cpu": 0.0,
            "requests.memory": 0.0,
            "limits.cpu": 0.0,
            "limits.memory": 0.0,
            "requests.storage": 0.0,
            "pods": 0.0,
        }

        def add(pods: int, amounts: dict[str, float], persistence: Persistence | None = None) -> None:
            total["pods"] += pods
            for key, value in amounts.items():
                total[key] += pods * value
            if persistence is not None and persistence.enabled:
                total["requests.storage"] += pods * quantity_value(persistence.size)

        for svc in self.services:
            r = svc.rollout
            app_pod = pod_amounts(
                [svc.resources, *(x.resources for x in svc.sidecars)], [x.resources for x in svc.init_containers]
            )
            # A Job's pod runs the app's image with its resources, one container, no extra containers.
            job_pod = pod_amounts([svc.resources], [])
            overlap = max(svc.surge_pods(), 1 if svc.migration.enabled else 0)
            add(svc.max_pods() + overlap, app_pod, svc.persistence)
            if r.strategy == "canary" and r.canary is not None:
                add(r.canary.replicas + 1, app_pod, svc.persistence)
            elif r.strategy == "blueGreen" and r.blue_green is not None:
                idle = r.blue_green.idle_replicas
                add(
                    svc.max_pods() + svc.surge_pods() if idle is None else idle + (1 if idle else 0),
                    app_pod,
                    svc.persistence,
                )
            if svc.checkpoint_cleanup.enabled:
                add(1, job_pod)
        for store in (self.postgres, self.redis):
            if store.mode == "inCluster":
                add(1, pod_amounts([store.resources], []), store.persistence)
        pg = self.postgres
        if pg.mode == "cloudnativepg":
            # The pods CloudNativePG and its Barman Cloud plugin make, as they make them (operators.py).
            whose = {
                "cluster": pg.resources,
                "sidecar": BARMAN_SIDECAR_RESOURCES,
                "pooler": POOLER_RESOURCES,
                "pod-level": self.limit_range_defaults(),
            }

            def operator_pod(made: tuple[list[operators.Container], list[operators.Container]]) -> dict[str, float]:
                containers, init = made
                return pod_amounts(
                    [whose[w] for _, w, _ in containers], [(whose[w], restartable) for _, w, restartable in init]
                )

            # Every instance with its volume (a switchover replaces none), the plugin's sidecar in each.
            add(pg.instances, operator_pod(operators.cnpg_instance_pod(plugin=pg.backup.enabled)), pg.persistence)
            if pg.backup.enabled and pg.restore_drill.enabled:
                # The drill's one-instance Cluster (recovering through the plugin: its sidecar too) and
                # the drill's own pod, which runs while that Cluster does.
                add(1, operator_pod(operators.cnpg_instance_pod(plugin=True)), pg.persistence)
                add(1, pod_amounts([DRILL_RESOURCES], [DRILL_RESOURCES]))
            if pg.pooler.enabled:
                # PgBouncer's pods and a rollout's surge, each with its bootstrap init container.
                n = pg.pooler.instances
                add(n + operators.cnpg_pooler_surge(n), operator_pod(operators.cnpg_pooler_pod()))
        # Storage of claims a StatefulSet kept on scale-down (whenScaled: Retain) is counted
        # at the maximum already; a resize grows it, which the explicit value must allow.
        return total

    def limit_range_defaults(self) -> Resources:
        """What the namespace's LimitRange gives a container that sets nothing."""
        lr = self.namespace.limit_range if self.namespace is not None else LimitRangeConfig()
        return Resources(
            requests=ResourceAmounts(cpu=lr.default_request_cpu, memory=lr.default_request_memory),
            limits=ResourceAmounts(cpu=lr.default_cpu, memory=lr.default_memory),
        )

    def derived_quota(self) -> dict[str, str]:
        """The worst case as ResourceQuota spec.hard amounts (used where namespace.quota sets none)."""
        worst = self.worst_case()
        return {
            "requests.cpu": _cpu_quantity(worst["requests.cpu"]),
            "requests.memory": _bytes_quantity(worst["requests.memory"]),
            "limits.cpu": _cpu_quantity(worst["limits.cpu"]),
            "limits.memory": _bytes_quantity(worst["limits.memory"]),
            "requests.storage": _bytes_quantity(worst["requests.storage"]),
            "pods": str(int(worst["pods"])),
        }

    def _check_quota(self, found: Findings) -> None:
        assert self.namespace is not None
        q, worst = self.namespace.quota, self.worst_case()
        given = {
            "requests.cpu": ("cpu", q.cpu),
            "requests.memory": ("memory", q.memory),
            "limits.cpu": ("limitsCpu", q.limits_cpu),
            "limits.memory": ("limitsMemory", q.limits_memory),
            "requests.storage": ("storage", q.storage),
            "pods": ("pods", q.pods),
        }
        for hard, (key, value) in given.items():
            if value is None:
                continue
            need = worst[hard]
            if quantity_value(str(value)) < need - 1e-9:
                shown = (
                    _cpu_quantity(need)
                    if hard.endswith("cpu")
                    else (str(int(need)) if hard == "pods" else _bytes_quantity(need))
                )
                found(
                    f"namespace.quota.{key}",
                    f"{value} is below the worst case {shown} ({hard} at every service's maximum replicas with their "
                    "sidecars and init containers, plus rollout surge or migration, cleanup jobs and data stores): "
                    "the rollout or the autoscaler would stall; raise it or unset it to derive it",
                )

    def connection_demand(self) -> list[tuple[str, int]]:
        """What connects to Postgres at worst, (what, connections): every unit of every service at
        its autoscaling maximum plus its rollout surge, canary and idle colours included, and the
        migration and cleanup Jobs, each pod opening `databasePoolSize` connections."""
        demand = []
        for i, s in enumerate(self.services):
            if not s.uses_postgres:
                continue
            r, pool = s.rollout, s.database_pool_size
            pods = s.max_pods() + s.surge_pods()
            if r.strategy == "canary" and r.canary is not None:
                pods += r.canary.replicas + 1
            elif r.strategy == "blueGreen" and r.blue_green is not None:
                idle = r.blue_green.idle_replicas
                pods += s.max_pods() + s.surge_pods() if idle is None else idle + (1 if idle else 0)
            demand.append((f"services[{i}] {s.name}: {pods} pods x {pool}", pods * pool))
            if s.migration.enabled:
                demand.append((f"services[{i}] migration: 1 x {pool}", pool))
            if s.checkpoint_cleanup.enabled:
                demand.append((f"services[{i}] cleanup: 1 x {pool}", pool))
        return demand

    def _check_connection_budget(self, found: Findings) -> None:
        pg = self.postgres
        demand = self.connection_demand()
        need = sum(n for _, n in demand)
        for key, capacity, what in pg.connection_capacity():
            if need > capacity:
                found(
                    key,
                    f"connection budget: {need} connections at worst ({'; '.join(w for w, _ in demand)}) "
                    f"exceed {capacity}, {what}; raise {key.split('.', 1)[1]} or lower services[].databasePoolSize "
                    f"or the autoscaling maxima",
                )
        if pg.pooler.enabled:
            p, usable = pg.pooler, pg.max_connections - SUPERUSER_RESERVED_CONNECTIONS
            servers = p.instances * p.default_pool_size
            if servers > usable:
                found(
                    "postgres.pooler.defaultPoolSize",
                    f"connection budget: {p.instances} PgBouncer pods x defaultPoolSize {p.default_pool_size} = "
                    f"{servers} "
                    f"server connections exceed postgres.maxConnections {pg.max_connections} minus "
                    f"{SUPERUSER_RESERVED_CONNECTIONS} superuser-reserved = {usable}; lower it or raise "
                    "postgres.maxConnections",
                )

    def docker_settings(self) -> DockerConfig:
        return self.docker or DockerConfig()

    def named_secret_keys(self) -> list[str]:
        """Every key `secretEnv` and `externalUrlKey` name, wherever the values live."""
        keys = {k for s in self.services for k in s.secret_env.values()}
        keys |= {d.external_url_key for d in (self.postgres, self.redis) if d.external_url_key}
        return sorted(keys)

    def secret_keys(self) -> list[str]:
        """Every secret stack config key the program reads (sorted, unique): none when they live in an
        existing Secret."""
        if self.secrets.mode != "pulumi":
            return []
        keys = {k for s in self.services for k in s.secret_env.values()}
        keys |= {d.external_url_key for d in (self.postgres, self.redis) if d.external_url_key}
        return sorted(keys)


def pod_amounts(
    containers: list[Resources], init_containers: list[Resources | tuple[Resources, bool]]
) -> dict[str, float]:
    """A pod's effective requests and limits as the scheduler and quota admission count them
    (k8s.io/component-helpers resource/helpers.go PodRequests / PodLimits), per resource: the
    containers' sum plus every restartable (native sidecar) init container, or, if more, the largest
    of each init container plus the sidecars started before it. An init container is `Resources`, or
    `(Resources, restartable)` for an operator's native sidecar (the platform's own are containers)."""
    ordered = [c if isinstance(c, tuple) else (c, False) for c in init_containers]
    amounts = {}
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):

            def value(r: Resources, kind: str = kind, resource: str = resource) -> float:
                return quantity_value(getattr(getattr(r, kind), resource))

            running = sum(value(c) for c in containers)
            sidecars = init_peak = 0.0
            for c, restartable in ordered:
                if restartable:
                    running += value(c)
                    sidecars += value(c)
                    init_peak = max(init_peak, sidecars)
                else:
                    init_peak = max(init_peak, value(c) + sidecars)
            amounts[f"{kind}.{resource}"] = max(running, init_peak)
    return amounts


def _cpu_quantity(cores: float) -> str:
    millis = int(round(cores * 1000))
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _bytes_quantity(value: float) -> str:
    mib = int(-(-value // 2**20))
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


Autoscaling.model_rebuild()


# --------------------------------------------------------------------------- validation


def _full_loc(loc: tuple[Any, ...], at: str | None) -> tuple[Any, ...]:
    """Where a finding is in the values: pydantic's location, then the sub-key `at` a model's own check
    points at (`rollout.strategy`, `services[1].port`)."""
    # "[key]" is pydantic's marker for a bad dict key: the key is the part before it.
    parts: list[Any] = [p for p in loc if p != "[key]"]
    for index, key in re.findall(r"\[(\d+)\]|([^.\[\]]+)", at or ""):
        parts.append(int(index) if index else key)
    return tuple(parts)


def _format_loc(prefix: str, parts: tuple[Any, ...], values: Any = None) -> str:
    """The key as the user wrote it; a list item that has a `name` is named by it (`services[agent-api]`)."""
    path = ""
    for position, part in enumerate(parts):
        item = values[part] if isinstance(values, (list, dict)) and _has(values, part) else None
        if isinstance(part, int) and parts[position + 1 : position + 2] != ("name",):
            name = item.get("name") if isinstance(item, dict) else None
            names = [v.get("name") for v in values if isinstance(v, dict)] if isinstance(values, list) else []
            # By name where the name says which one (not a duplicate); by position otherwise.
            named = isinstance(name, str) and name and names.count(name) == 1
            path += f"[{name}]" if named else f"[{part}]"
        elif isinstance(part, int):  # a problem with the name itself: by position
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
        values = item
    return prefix + path


# pydantic's own error types: their messages leave out the value, which is added here. The
# platform's own (rule, bad) already say it.
_PYDANTIC_ERRORS = frozenset(typing.get_args(ErrorType))


def _unwrap(annotation: Any) -> Any:
    """Annotated[X, ...] and Optional[X] down to X."""
    while True:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is Annotated:
            annotation = args[0]
        elif origin in (typing.Union, types.UnionType):
            inner = [a for a in args if a is not type(None)]
            if len(inner) != 1:
                return None
            annotation = inner[0]
        else:
            return annotation


def _annotation_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> Any:
    """The type the values hold at `loc` (a path of keys and list indexes), unwrapped; None if unknown."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        if typing.get_origin(annotation) is list and isinstance(part, int):
            annotation = typing.get_args(annotation)[0]
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(part, str):
            field = _field(annotation, part)
            if field is None:
                return None
            annotation = field.annotation
        else:
            return None
    return _unwrap(annotation)


def _field(model: type[BaseModel], key: str) -> Any:
    return next((f for n, f in model.model_fields.items() if key in (n, f.alias)), None)


def _model_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose keys are valid at `loc`, if one is."""
    annotation = _annotation_at(model, loc)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _hint(err: dict[str, Any], model: type[BaseModel] | None) -> str:
    """What to write instead, where the finding says: did you mean, quote it, the allowed values."""
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden" and isinstance(loc[-1], str):
        known = _model_at(model, loc[:-1])
        if known is not None:
            # camelCase in a stack file, snake_case in a component's args: offer the form the user wrote.
            keys = (
                [n for n in known.model_fields]
                if "_" in loc[-1]
                else [f.alias or n for n, f in known.model_fields.items()]
            )
            close = difflib.get_close_matches(loc[-1], keys, n=1, cutoff=0.75)
            if close:
                return f" (did you mean {close[0]}?)"
    if err["type"] == "string_type" and isinstance(err.get("input"), (int, float, bool)):
        value = err["input"]
        written = str(value).lower() if isinstance(value, bool) else str(value)
        return f' (quote it: "{written}")'
    if err["type"] == "literal_error" and isinstance(err.get("input"), str):
        expected = re.findall(r"'([^']*)'", (err.get("ctx") or {}).get("expected", ""))
        close = difflib.get_close_matches(err["input"], expected, n=1, cutoff=0.6)
        if close:
            return f" (did you mean {close[0]}?)"
    return ""


def _has(values: list | dict, part: Any) -> bool:
    if isinstance(values, list):
        return isinstance(part, int) and 0 <= part < len(values)
    return part in values


def _line(err: dict[str, Any], prefix: str, model: type[BaseModel] | None, values: Any) -> Problem:
    ctx = err.get("ctx") or {}
    parts = _full_loc(tuple(err["loc"]), ctx.get("at"))
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"] == "missing":
        message = "is required"
    elif err["type"] in _PYDANTIC_ERRORS and not isinstance(err.get("input"), (dict, list)):
        message += f", got {err.get('input')!r}"
    return Problem(f"{_format_loc(prefix, parts, values)}: {message}{_hint(err, model)}", parts)


def problems(
    error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None, values: Any = None
) -> list[Problem]:
    """One `key: problem` line per finding, keys in the camelCase of stack files and schemas, the bad
    value shown and a hint where one fits."""
    return [_line(err, prefix, model, values) for err in error.errors(include_url=False)]


def _cut_point(model: type[BaseModel], err: dict[str, Any]) -> tuple[Any, ...] | None:
    """Where to cut the values so that the models above a finding still run their own checks: the
    nearest key that may be left out (its default applies), a dict entry, or the unknown key itself.
    List items are never cut (that would renumber their siblings): the list is, if it may be left out."""
    parts = [p for p in err["loc"] if p != "[key]"]
    if err["type"] == "extra_forbidden":
        return tuple(parts)
    if err["type"] == "missing":
        parts = parts[:-1]  # the key is not there: its model is what cannot be built
    while parts:
        last = parts[-1]
        if isinstance(last, str):
            container = _annotation_at(model, tuple(parts[:-1]))
            if typing.get_origin(container) is dict:
                return tuple(parts)
            if isinstance(container, type) and issubclass(container, BaseModel):
                field = _field(container, last)
                if field is not None and not field.is_required():
                    return tuple(parts)
        parts = parts[:-1]
    return None


def _cut(values: Any, path: tuple[Any, ...], model: type[BaseModel]) -> bool:
    """`values` without the key at `path` (in place); False if it is not there."""
    *head, last = path
    for part in head:
        if not (isinstance(values, (dict, list)) and _has(values, part)):
            return False
        values = values[part]
    if not isinstance(values, dict):
        return False
    container = _annotation_at(model, tuple(head))
    field = _field(container, last) if isinstance(container, type) and issubclass(container, BaseModel) else None
    # The key as written: camelCase or the snake_case name.
    keys = [last] if field is None else [k for k in values if k in (last, field.alias, _name_of(container, field))]
    for key in keys:
        values.pop(key, None)
    return bool(keys)


def _name_of(model: Any, field: Any) -> str:
    return next(n for n, f in model.model_fields.items() if f is field)


def _under(loc: tuple[Any, ...], path: tuple[Any, ...]) -> bool:
    return loc[: len(path)] == path


def _locations(value: Any, loc: tuple[Any, ...], out: dict[int, tuple[Any, ...]]) -> None:
    """Where each model instance of a validated tree sits (keys as aliases, as pydantic reports them)."""
    if isinstance(value, BaseModel):
        out.setdefault(id(value), loc)
        for name, field in type(value).model_fields.items():
            _locations(getattr(value, name), (*loc, field.alias or name), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _locations(item, (*loc, i), out)
    elif isinstance(value, dict):
        for key, item in value.items():
            _locations(item, (*loc, key), out)


def _as_errors(error: Exception, loc: tuple[Any, ...]) -> list[dict[str, Any]]:
    if isinstance(error, ValidationError):
        return [{**e, "loc": (*loc, *e["loc"])} for e in error.errors(include_url=False)]
    assert isinstance(error, PydanticCustomError)
    return [{"type": error.type, "loc": loc, "msg": error.message(), "input": None, "ctx": error.context or {}}]


def _all_errors(model: type[BaseModel], values: Any, rounds: int = 6) -> list[dict[str, Any]]:
    """Every finding at every level in one pass.

    Pydantic runs a model's own checks only once its fields are valid, and a model whose check
    fails fails its parent, so one bad key hides every cross-field problem above it. Here the values
    are validated again with each bad key cut out (its default applies) while the checks record
    instead of raising; once the whole tree builds, each recorded violation is located by the
    instance it concerns. What concerns a key that was cut is left out: it would judge the default,
    not what was written."""
    try:
        model.model_validate(values)
        return []
    except ValidationError as error:
        strict = error.errors(include_url=False)
    if not isinstance(values, dict):
        return strict

    def key(e: dict[str, Any]) -> tuple[Any, ...]:
        return (_full_loc(tuple(e["loc"]), (e.get("ctx") or {}).get("at")), e["msg"])

    found, seen = list(strict), {key(e) for e in strict}
    current, cut = copy.deepcopy(values), []
    errors = [e for e in strict if e["type"] != "rule"]
    recorded: list[tuple[BaseModel, Exception]] = []
    token = _RECORDING.set(recorded)
    try:
        root = None
        for attempt in range(rounds):
            if attempt:  # the first attempt cuts nothing: a failed check alone also hides the ones above it
                points = {p for e in errors if (p := _cut_point(model, e)) is not None and p not in cut}
                points = {p for p in points if _cut(current, p, model)}
                if not points:
                    break
                cut += sorted(points, key=str)
            recorded.clear()
            try:
                root = model.model_validate(current)
                break
            except ValidationError as error:
                errors = error.errors(include_url=False)  # field errors only: the checks record
                found += [e for e in errors if key(e) not in seen and not any(_under(key(e)[0], p) for p in cut)]
                seen |= {key(e) for e in errors}
    finally:
        _RECORDING.reset(token)
    if root is None:
        return found
    where: dict[int, tuple[Any, ...]] = {}
    _locations(root, (), where)
    names = {str(p[-1]) for p in cut if isinstance(p[-1], str)}
    for instance, error in recorded:
        if id(instance) not in where:
            continue  # a model built and discarded on the way (not part of the tree)
        for e in _as_errors(error, where[id(instance)]):
            loc, message = key(e)
            if key(e) in seen or any(_under(loc, p) for p in cut):
                continue
            if any(re.search(rf"\b{re.escape(n)}\b", f"{message} {_format_loc('', loc)}") for n in names):
                continue
            seen.add(key(e))
            found.append(e)
    return found


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], values: Any, source: str = "", prefix: str = "") -> M:
    """`values` checked against `model`, or ConfigError with every problem at every level at once
    (no traceback noise)."""
    if isinstance(values, model):
        return values
    try:
        return model.model_validate(values)
    except ValidationError:
        errors = _all_errors(model, values)
    raise ConfigError([_line(e, prefix, model, values) for e in errors], source) from None
