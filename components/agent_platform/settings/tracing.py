"""Tracing: where every agent service sends its traces (OpenTelemetry OTLP, LangSmith or Langfuse),
and the environment each framework reads to do so.

Plain variables go to the service's ConfigMap (Docker: its container's env), secret ones to its
Secret, named by a secret config key exactly as `secretEnv` names them: no value is ever in the
stack file. On Kubernetes the service's NetworkPolicy admits the endpoint's port and nothing else
(service_network_policy.py)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field

from agent_platform.settings.base import Model
from agent_platform.settings.errors import Findings, check, shown
from agent_platform.settings.service import AgentServiceConfig
from agent_platform.settings.values import PlainText, SecretKey

# The vendors' documented default endpoints.
# LangSmith: langsmith 0.15.1 python/langsmith/utils.py:788-796 (`get_api_url`: LANGSMITH_ENDPOINT,
# default "https://api.smith.langchain.com").
LANGSMITH_ENDPOINT = "https://api.smith.langchain.com"
# Langfuse: https://langfuse.com/docs/observability/sdk/python/setup ("the default (EU,
# https://cloud.langfuse.com)"; LANGFUSE_BASE_URL, the older LANGFUSE_HOST).
LANGFUSE_ENDPOINT = "https://cloud.langfuse.com"
DEFAULT_ENDPOINTS = {"langsmith": LANGSMITH_ENDPOINT, "langfuse": LANGFUSE_ENDPOINT}
SCHEME_PORTS = {"https": 443, "http": 80}

# What each framework reads. A name in these lists that a service also sets (env, secretEnv,
# extraEnv) is an error: either would silently win over the other.
# OpenTelemetry SDK environment (https://opentelemetry.io/docs/languages/sdk-configuration/otlp-exporter/;
# opentelemetry-sdk 1.45.2 opentelemetry/sdk/environment_variables/__init__.py:248 OTEL_EXPORTER_OTLP_PROTOCOL,
# :285 OTEL_EXPORTER_OTLP_HEADERS): the endpoint is the base URL, the SDK appends /v1/traces for http/protobuf.
OTEL_NAMES = (
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_TRACES_EXPORTER",
)
# LangSmith reads each setting as LANGSMITH_<X>, else LANGCHAIN_<X> (langsmith 0.15.1 utils.py:377-413
# `get_env_var`, namespaces ("LANGSMITH", "LANGCHAIN")); tracing is on when TRACING_V2, else TRACING,
# is "true" (utils.py:139); the project is PROJECT (utils.py:431). A stale LANGCHAIN_TRACING_V2=false
# would turn off what LANGSMITH_TRACING turns on: the older names are refused as well.
LANGSMITH_SETTINGS = ("TRACING", "TRACING_V2", "ENDPOINT", "API_KEY", "PROJECT")
LANGSMITH_NAMES = tuple(f"{ns}_{x}" for ns in ("LANGSMITH", "LANGCHAIN") for x in LANGSMITH_SETTINGS)
# Langfuse's SDK (https://langfuse.com/docs/observability/sdk/python/setup, "Key configuration options"):
# LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_BASE_URL (LANGFUSE_HOST in SDKs before it),
# LANGFUSE_TRACING_ENVIRONMENT.
LANGFUSE_NAMES = (
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
    "LANGFUSE_BASE_URL",
    "LANGFUSE_HOST",
    "LANGFUSE_TRACING_ENVIRONMENT",
)


def in_cluster_host(host: str) -> bool:
    """`<service>.<namespace>.svc` (and `.svc.<cluster domain>`): a Service of the cluster."""
    parts = host.split(".")
    return len(parts) >= 3 and parts[2] == "svc"


class Tracing(Model):
    """Traces of every agent service: OpenTelemetry OTLP, LangSmith or Langfuse (off by default)."""

    enabled: bool = Field(False, description="Send every agent service's traces to `provider`.")
    provider: Literal["otlp", "langsmith", "langfuse"] = Field(
        "otlp",
        description="`otlp`: an OpenTelemetry collector or vendor (OTEL_EXPORTER_OTLP_*); `langsmith`: LangSmith "
        "(LANGSMITH_*); `langfuse`: Langfuse (LANGFUSE_*).",
    )
    endpoint: PlainText | None = Field(
        None,
        description="Base URL traces go to (https; http only to an in-cluster Service `<name>.<namespace>.svc[:port]` "
        "or with `insecureReason`). otlp: required (the SDK appends `/v1/traces` for http/protobuf); langsmith: "
        "default `https://api.smith.langchain.com`; langfuse: default `https://cloud.langfuse.com`.",
    )
    insecure_reason: PlainText | None = Field(
        None,
        description="Why an http endpoint outside the cluster is acceptable (traces carry prompts and outputs in "
        "plain text); required for such an endpoint.",
    )
    protocol: Literal["http/protobuf", "grpc"] = Field(
        "http/protobuf", description="otlp: OTEL_EXPORTER_OTLP_PROTOCOL."
    )
    headers_key: SecretKey | None = Field(
        None,
        description="otlp: secret config key holding OTEL_EXPORTER_OTLP_HEADERS (`key1=value1,key2=value2`, e.g. an "
        "`Authorization` header); the value goes to the services' Secret only.",
    )
    api_key_key: SecretKey | None = Field(
        None,
        description="langsmith: secret config key of the API key (LANGSMITH_API_KEY); langfuse: of the secret key "
        "(LANGFUSE_SECRET_KEY). Required for both.",
    )
    public_key_key: SecretKey | None = Field(
        None, description="langfuse: secret config key of the public key (LANGFUSE_PUBLIC_KEY). Required."
    )
    project: PlainText | None = Field(
        None,
        description="langsmith: LANGSMITH_PROJECT (required). Langfuse's project is the one its keys belong to.",
    )

    @check
    def _complete(self) -> Tracing:
        if not self.enabled:
            return self
        found = Findings()
        p = self.provider
        if p == "otlp" and not self.endpoint:
            found("endpoint", "is required when provider is otlp")
        if p != "otlp":
            for key, alias in (("headers_key", "headersKey"), ("protocol", "protocol")):
                if key in self.model_fields_set:
                    found(alias, f"only applies when provider is otlp, got provider {shown(p)}")
        if p in ("langsmith", "langfuse") and not self.api_key_key:
            found("apiKeyKey", f"is required when provider is {p}")
        if p == "langfuse" and not self.public_key_key:
            found("publicKeyKey", "is required when provider is langfuse")
        if p != "langfuse" and self.public_key_key:
            found("publicKeyKey", "only applies when provider is langfuse")
        if p == "langsmith" and not self.project:
            found("project", "is required when provider is langsmith")
        if p == "langfuse" and self.project:
            found("project", "does not apply to langfuse: traces go to the project its keys belong to")
        if p == "otlp" and (self.api_key_key or self.project):
            found("apiKeyKey" if self.api_key_key else "project", "does not apply to otlp (use headersKey)")
        self._check_endpoint(found)
        found.raise_any("Tracing")
        return self

    def _check_endpoint(self, found: Findings) -> None:
        url = self.url()
        if not url:
            return
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as error:
            found("endpoint", f"is not a URL ({error}), got {shown(url)}")
            return
        if parts.scheme not in SCHEME_PORTS or not parts.hostname:
            found("endpoint", f"must be an https:// URL with a host, got {shown(url)}")
            return
        if parts.username or parts.password:
            found("endpoint", "must not hold credentials (the otlp headers come from headersKey, a secret)")
        if parts.query or parts.fragment:
            found("endpoint", f"must have no query or fragment, got {shown(url)}")
        if port == 0:
            found("endpoint", f"port must be 1-65535, got {shown(url)}")
        if parts.scheme == "http" and not in_cluster_host(parts.hostname) and not self.insecure_reason:
            found(
                "endpoint",
                f"{shown(url)} is http outside the cluster: traces (prompts, outputs) would cross the network in "
                "plain text; use https, an in-cluster Service (<name>.<namespace>.svc), or state insecureReason",
            )
        if self.insecure_reason and parts.scheme == "https":
            found("insecureReason", "only applies to an http endpoint")

    def url(self) -> str:
        """The endpoint as the services receive it: as set, else the vendor's default."""
        return (self.endpoint or DEFAULT_ENDPOINTS.get(self.provider, "")).rstrip("/")

    def address(self) -> tuple[str, int]:
        """(host, port) the services connect to (the scheme's port unless the URL names one)."""
        parts = urlsplit(self.url())
        return parts.hostname or "", parts.port or SCHEME_PORTS[parts.scheme]

    def in_cluster_namespace(self) -> str | None:
        """The namespace of an in-cluster endpoint (`<name>.<namespace>.svc...`), else None."""
        host, _port = self.address()
        return host.split(".")[1] if in_cluster_host(host) else None

    def reserved_names(self) -> tuple[str, ...]:
        """The variables this provider's framework reads: a service must set none of them itself."""
        if not self.enabled:
            return ()
        return OTEL_NAMES + {"otlp": (), "langsmith": LANGSMITH_NAMES, "langfuse": LANGFUSE_NAMES}[self.provider]

    def secret_keys(self) -> list[str]:
        """The secret config keys tracing reads."""
        if not self.enabled:
            return []
        return sorted(k for k in (self.headers_key, self.api_key_key, self.public_key_key) if k)

    def environment(self, service: str, environment: str) -> tuple[dict[str, str], dict[str, str]]:
        """(plain variables, variable -> secret config key) of one service. Every provider gets the
        OpenTelemetry service name and resource attributes (LangSmith and Langfuse's SDKs export
        OpenTelemetry spans too)."""
        if not self.enabled:
            return {}, {}
        plain = {
            "OTEL_SERVICE_NAME": service,
            # Resource attributes (OpenTelemetry semantic conventions: deployment.environment.name).
            "OTEL_RESOURCE_ATTRIBUTES": f"deployment.environment.name={environment}",
        }
        secret: dict[str, str] = {}
        url = self.url()
        if self.provider == "otlp":
            plain["OTEL_EXPORTER_OTLP_ENDPOINT"] = url
            plain["OTEL_EXPORTER_OTLP_PROTOCOL"] = self.protocol
            if self.headers_key:
                secret["OTEL_EXPORTER_OTLP_HEADERS"] = self.headers_key
        elif self.provider == "langsmith":
            plain |= {"LANGSMITH_TRACING": "true", "LANGSMITH_ENDPOINT": url, "LANGSMITH_PROJECT": self.project or ""}
            secret["LANGSMITH_API_KEY"] = self.api_key_key or ""
        else:
            # LANGFUSE_HOST for SDKs before LANGFUSE_BASE_URL; both name the same URL.
            plain |= {"LANGFUSE_BASE_URL": url, "LANGFUSE_HOST": url, "LANGFUSE_TRACING_ENVIRONMENT": environment}
            secret["LANGFUSE_PUBLIC_KEY"] = self.public_key_key or ""
            secret["LANGFUSE_SECRET_KEY"] = self.api_key_key or ""
        return plain, secret


def traced(service: AgentServiceConfig, tracing: Tracing, environment: str) -> AgentServiceConfig:
    """The service with tracing's variables added to its env and secretEnv, which both platforms
    render as they render the service's own (ConfigMap and Secret; the container's env and the
    compose env file). StackConfig has refused a service that sets one of them itself."""
    plain, secret = tracing.environment(service.name, environment)
    if not plain and not secret:
        return service
    return service.model_copy(update={"env": {**service.env, **plain}, "secret_env": {**service.secret_env, **secret}})
