"""Kubernetes and Docker value grammars: quantities, names, images, CIDRs, cron schedules, label keys and values,
HTTP paths, numbers (never a boolean, within the API's int32) and plain text (never a credential).

Every pattern is matched whole (`fullmatch`): Python's `$` would also match before a final newline."""

from __future__ import annotations

import difflib
import ipaddress
import re
import zoneinfo
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
)
from pydantic_core import PydanticCustomError

from agent_platform.settings.errors import bad, credential_shape, shown

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
    match = _QUANTITY.fullmatch(text)
    if not match:
        raise ValueError(text)
    number, suffix = match.group(1), match.group(3) or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return float(number + suffix)
    return float(number) * _SUFFIX_FACTOR[suffix]


def _quantity(value: Any) -> str:
    text = str(value)
    # Requests, limits, quotas and sizes are never negative (core validation ValidateResourceQuantityValue).
    if text.startswith("-") and _QUANTITY.fullmatch(text[1:]):
        raise bad("quantity", "must not be negative", text)
    if not _QUANTITY.fullmatch(text):
        raise bad("quantity", "must be a Kubernetes quantity such as 500m, 1, 256Mi or 10Gi", text)
    return text


def _positive_quantity(value: str) -> str:
    if quantity_value(value) <= 0:
        raise bad("quantity", "must be greater than 0", value)
    return value


def _dns_name(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
        raise bad("dns", "must be a lowercase DNS name (RFC 1123)", value)
    return value


def _host_name(value: str) -> str:
    # An Ingress rule's host (networking validation validateIngressRules): a DNS name, "must be a DNS
    # name, not an IP address".
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return value
    raise bad(
        "dns", "must be a DNS name, not an IP address (an Ingress host is matched against the Host header)", value
    )


def _object_name(value: str) -> str:
    if len(value) > 253 or not _DNS_1123_SUBDOMAIN.fullmatch(value):
        raise bad(
            "dns",
            "must be a Kubernetes object name: a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.'; at most 253)",
            value,
        )
    return value


def _dns_label(value: str) -> str:
    if not _DNS_1123_LABEL.fullmatch(value):
        raise bad("label", "must be a lowercase DNS label (a-z, 0-9, '-', at most 63)", value)
    return value


def _service_name(value: str) -> str:
    if not _DNS_1035_LABEL.fullmatch(value):
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
    if not _IMAGE_PATH.fullmatch(path):
        raise bad(
            "image",
            "repository must be lowercase (a-z, 0-9, '.', '_', '-', '/'), as registries and the kubelet require",
            repo,
        )
    if tag is not None and not _IMAGE_TAG.fullmatch(tag):
        raise bad("image", "tag must be [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag)
    if digest is not None and not _DIGEST.fullmatch(digest):
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
        return f"step {shown(step)} must be a positive number"
    if span in ("*", "?"):
        return None

    def number(text: str) -> int | None:
        if text.lower() in names:
            return names[text.lower()]
        return int(text) if text.isdigit() else None

    first, dash, last = span.partition("-")
    start, end = number(first), number(last) if dash else None
    if start is None or (dash and end is None):
        return f"{shown(span)} is not a number, name or range"
    for n in (start, end):
        if n is not None and not low <= n <= high:
            return f"{n} is outside {low}-{high}"
    if end is not None and start > end:
        return f"range {shown(span)} starts after it ends"
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
    if not _ENV_NAME.fullmatch(value):
        raise bad("env", "must be an environment variable name", value)
    return value


def _config_key(value: str) -> str:
    what = credential_shape(value)
    if what is not None:
        raise PydanticCustomError(
            "credential",
            "{message}",
            {
                "message": f"is {what} itself (not shown here), where the NAME of a secret config key goes: "
                "store the value with `pulumi config set --secret <name>`, write that name here, and rotate the "
                "credential: it has been in this file"
            },
        )
    if not _CONFIG_KEY.fullmatch(value) or ":" in value:
        raise bad("key", "must be a config key of this project (letters, digits, '-', '_')", value)
    return value


def _not_a_credential(value: str) -> str:
    # What the platform writes in plain (a ConfigMap, a container's env or args, an annotation) is in
    # every rendered file and report: a credential there has leaked. The message never shows it.
    what = credential_shape(value)
    if what is not None:
        raise PydanticCustomError(
            "credential",
            "{message}",
            {
                "message": f"holds {what}, not shown here, which would be written in plain into rendered files "
                "and reports: store it with `pulumi config set --secret <name>` and name it under secretEnv "
                "instead, then rotate it: it has been in this file"
            },
        )
    return value


# Ingress paths as the API server checks them (kubernetes pkg/apis/networking/validation/validation.go
# validateHTTPIngressPath, pathType Prefix: absolute; none of invalidPathSequences "//", "/./", "/../",
# "%2f", "%2F"; no invalidPathSuffixes "/..", "/.") in the characters the Gateway API accepts for the
# same path, which exposure gatewayApi renders as an HTTPRoute PathPrefix match (gateway-api
# apis/v1/httproute_types.go HTTPPathMatch: RFC 3986 pchar, '/' and %-escapes, no '#', MaxLength 1024).
_PATH_CHARS = re.compile(r"(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+")
_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_PATH_SUFFIXES = ("/..", "/.")


def _http_path(value: str) -> str:
    if not value.startswith("/"):
        raise bad("path", "must be an absolute path (start with '/')", value)
    if len(value) > 1024:
        raise bad("path", "must be at most 1024 characters (Gateway API HTTPPathMatch)", value)
    if not _PATH_CHARS.fullmatch(value):
        odd = next(c for c in re.sub(r"%[0-9a-fA-F]{2}", "", value) if not _PATH_CHARS.fullmatch(c))
        what = repr(odd) if odd.isprintable() else f"a control character (U+{ord(odd):04X})"
        raise bad(
            "path",
            f"must be a URL path (a-z, A-Z, 0-9, -._~!$&'()*+,;=:@/ and %XX escapes); it holds {what}",
            value,
        )
    for sequence in _PATH_SEQUENCES:
        if sequence in value:
            raise bad("path", f"must not contain {sequence!r} (the API server refuses it in an Ingress path)", value)
    if value.endswith(_PATH_SUFFIXES):
        raise bad("path", "must not end with '/.' or '/..' (the API server refuses it in an Ingress path)", value)
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
    if (prefix and (len(prefix) > 253 or not _DNS_1123_SUBDOMAIN.fullmatch(prefix))) or not _QUALIFIED_NAME.fullmatch(
        name
    ):
        raise bad(
            "label",
            "must be a Kubernetes label or annotation key ([prefix/]name, name at most 63: a-z, A-Z, 0-9, '-', '_', "
            "'.')",
            value,
        )
    return value


def _label_value(value: str) -> str:
    if not _LABEL_VALUE.fullmatch(value):
        raise bad(
            "label",
            "must be a label value (at most 63: a-z, A-Z, 0-9, '-', '_', '.', alphanumeric at both ends)",
            value,
        )
    return value


def _no_boolean(value: Any) -> Any:
    # YAML reads true/false/yes/no as booleans, and pydantic would take True for 1: a number is never one.
    if isinstance(value, bool):
        raise PydanticCustomError(
            "boolean_for_number", "must be a number, not the boolean {value}", {"value": str(value).lower()}
        )
    return value


# The Kubernetes API's integers are int32 (replicas, probe and HPA fields, ports, IDs): nothing the
# platform counts is larger, and the API server refuses what is.
INT32_MAX = 2**31 - 1


def _within_int32(value: int) -> int:
    if value > INT32_MAX:
        raise bad("int32", f"must be at most {INT32_MAX}, the Kubernetes API's largest integer (int32)", value)
    return value


def _number_as_text(value: Any) -> Any:
    # A manifest takes a quantity as a number or a string (resource.Quantity is int-or-string):
    # `cpu: 1` is as valid as `cpu: "1"`.
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


Quantity = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(_quantity)]
MetadataKey = Annotated[str, AfterValidator(_metadata_key)]
LabelValue = Annotated[str, AfterValidator(_label_value), AfterValidator(_not_a_credential)]
# Free text the platform writes in plain: env values, command and args, annotations.
PlainText = Annotated[str, AfterValidator(_not_a_credential)]


def whole_number(**bounds: int) -> Any:
    """An integer setting: its bounds first (so the schema carries them), then never a boolean and
    never past int32."""
    return Annotated[int, Field(**bounds), BeforeValidator(_no_boolean), AfterValidator(_within_int32)]


# Every whole number of the model (no boolean, at most int32) and every fractional one (no boolean,
# no infinity or NaN). A field's own bounds (`Field(3, ge=1, le=500)`) apply on top.
Int = whole_number()
Float = Annotated[float, Field(allow_inf_nan=False), BeforeValidator(_no_boolean)]
HttpPath = Annotated[
    str,
    AfterValidator(_http_path),
    Field(json_schema_extra={"pattern": r"^/(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})*$", "maxLength": 1024}),
]
Cidr = Annotated[str, AfterValidator(_cidr)]
# The schema keeps a coarse pattern for editors; the validators hold the full rule.
CronSchedule = Annotated[str, AfterValidator(_cron), Field(json_schema_extra={"pattern": r"^(\S+\s+){4}\S+$"})]
IpAddress = Annotated[str, AfterValidator(_ip_address)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Ipv4Address = Annotated[
    str, AfterValidator(_ipv4_address), Field(json_schema_extra={"pattern": r"^(\d{1,3}\.){3}\d{1,3}$"})
]
DnsName = Annotated[str, AfterValidator(_dns_name)]
HostName = Annotated[str, AfterValidator(_dns_name), AfterValidator(_host_name)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
ObjectName = Annotated[str, AfterValidator(_object_name)]
ServiceName = Annotated[str, AfterValidator(_service_name)]
PositiveQuantity = Annotated[
    str, BeforeValidator(_number_as_text), AfterValidator(_quantity), AfterValidator(_positive_quantity)
]
Image = Annotated[str, AfterValidator(_image)]
EnvName = Annotated[str, AfterValidator(_env_name)]
SecretKey = Annotated[str, AfterValidator(_config_key)]
Port = whole_number(ge=1, le=65535)
Percent = whole_number(ge=1, le=100)
NonRootId = Annotated[
    int,
    Field(ge=10000, le=INT32_MAX, description="A numeric ID of at least 10000, outside any host range."),
    BeforeValidator(_no_boolean),
    AfterValidator(_within_int32),
]
