"""Generate components/agent_platform/args.py: the components' typed Args, from the settings model.

    python -m agent_platform.codegen [--check]

The pydantic models in settings/ hold every setting, its default and its checks;
the Args are the Pulumi-convention view of the same settings (TypedDicts with
snake_case keys, documented, plain where the component decides structure from
the value, `pulumi.Input` for what another resource may produce). The component
provider infers its schema from them (pulumi.provider.experimental analyzer.py
reads TypedDict annotations and attribute docstrings), so they are generated, not
kept in sync by hand; tests/components/test_codegen.py fails when they drift.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

from agent_platform.settings.cluster import IngressConfig, NamespaceConfig
from agent_platform.settings.service import AgentServiceConfig
from agent_platform.settings.stack import StackConfig
from agent_platform.settings.stores import PostgresConfig, RedisConfig

TARGET = Path(__file__).with_name("args.py")


NAMESPACE = (
    "namespace",
    "pulumi.Input[str]",
    True,
    "Namespace the objects are created in (e.g. `AgentNamespace.name`).",
)
ENVIRONMENT = ("environment", "str", True, "Environment name, a DNS label (`dev`, `prod`): labels and object names.")
SECRETS = (
    "secret_values",
    "pulumi.Input[dict[str, pulumi.Input[str]]]",
    False,
    "Secret values by key: `secret_env` and `external_url_key` name them. Pass Pulumi secrets "
    "(`pulumi.Config().require_secret(key)`); the component keeps them secret and puts them only in Secrets.",
)

LABELS = (
    "labels",
    "dict[str, str]",
    False,
    "Labels added to every object (never to selectors); the platform's own keys win.",
)
ANNOTATIONS = ("annotations", "dict[str, str]", False, "Annotations added to every object.")
PULL_SECRETS = (
    "image_pull_secrets",
    "list[str]",
    False,
    "Existing docker-registry Secrets in the namespace the pods pull with.",
)
EXISTING_SECRET = (
    "existing_secret",
    "str",
    False,
    "An existing Secret holding the keys that `secret_env` (and `external_url_key`) name: the pods read it "
    "directly and no Secret is created from `secret_values`.",
)
SCALER = (
    "scaler_namespace",
    "str",
    False,
    "Namespace of a KEDA operator that scales a service on this store: its NetworkPolicy admits the operator.",
)
CLUSTER_DOMAIN = (
    "cluster_domain",
    "str",
    False,
    "The cluster's DNS domain, in the store's host name. Default: `\"cluster.local\"`.",
)

# Component args: the settings of one model (minus keys the component decides) plus its wiring.
COMPONENTS = {
    "AgentServiceArgs": (
        AgentServiceConfig,
        (),
        [
            NAMESPACE,
            ENVIRONMENT,
            (
                "network",
                "NetworkArgs",
                False,
                "Who may reach the pods and where they may go (ingress controller and DNS namespaces, egress).",
            ),
            ("availability", "AvailabilityArgs", False, "Placement of the pods across zones and nodes."),
            (
                "backends",
                "list[BackendArgs]",
                False,
                "Data stores whose connection URL the pods receive (`Postgres.backend`, `Redis.backend`).",
            ),
            (
                "exposed",
                "bool",
                False,
                "Admit the ingress controller's namespace to the app port (the service is routed by an Ingress). "
                "Default: false.",
            ),
            (
                "callees",
                "list[PeerArgs]",
                False,
                "Services of the namespace these pods may call (egress to their pods' port).",
            ),
            (
                "serve",
                "bool",
                False,
                "Give the app port a Service (the ClusterIP Service's `http` port, the headless Service's port); "
                "AgentPlatform turns it off for a service nothing may call (no allowFrom, not routed), whose app "
                "port no NetworkPolicy admits anyone to. Default: true.",
            ),
            SECRETS,
            EXISTING_SECRET,
            PULL_SECRETS,
            LABELS,
            ANNOTATIONS,
            (
                "monitoring",
                "MonitoringArgs",
                False,
                "Expose the metrics port to Prometheus: scrape annotations, or a metrics port on the Service for a "
                "ServiceMonitor.",
            ),
        ],
    ),
    "PostgresArgs": (
        PostgresConfig,
        (),
        [
            NAMESPACE,
            ENVIRONMENT,
            SECRETS,
            EXISTING_SECRET,
            PULL_SECRETS,
            LABELS,
            ANNOTATIONS,
            CLUSTER_DOMAIN,
            SCALER,
            (
                "metrics_namespace",
                "str",
                False,
                "cloudnativepg: namespace of Prometheus, admitted to the instances' metrics port (9187). "
                "Default: none.",
            ),
        ],
    ),
    "RedisArgs": (
        RedisConfig,
        (),
        [NAMESPACE, ENVIRONMENT, SECRETS, EXISTING_SECRET, PULL_SECRETS, LABELS, ANNOTATIONS, CLUSTER_DOMAIN, SCALER],
    ),
    "AgentNamespaceArgs": (
        NamespaceConfig,
        (),
        [
            ENVIRONMENT,
            ("network", "NetworkArgs", False, "Where cluster DNS runs (the one egress every pod gets)."),
            (
                "derived_quota",
                "dict[str, str]",
                False,
                "ResourceQuota `spec.hard` amounts used where `quota` leaves one unset (AgentPlatform derives them "
                "from "
                "the worst case of its workloads); an amount set in neither is an error.",
            ),
            (
                "protect",
                "bool",
                False,
                "Pulumi `protect` + `retainOnDelete` on the Namespace: set when protected data stores keep their PVCs "
                "in it (deleting a Namespace deletes every PVC in it). Default: false.",
            ),
            LABELS,
            ANNOTATIONS,
        ],
    ),
    "AgentIngressArgs": (
        IngressConfig,
        ("enabled",),
        [
            NAMESPACE,
            ENVIRONMENT,
            ("routes", "list[RouteArgs]", True, "The services routed, each with its path prefixes."),
            (
                "gateway",
                "GatewayRefArgs",
                False,
                "Render an HTTPRoute on this Gateway instead of an Ingress (Gateway API); canaries become weighted "
                "backends.",
            ),
            LABELS,
            ANNOTATIONS,
        ],
    ),
    "AgentPlatformArgs": (StackConfig, ("platform", "docker"), [SECRETS]),
    "DockerPlatformArgs": (
        StackConfig,
        ("platform", "kubernetes", "namespace", "network", "availability"),
        [SECRETS],
    ),
}


# The wiring types components hand each other, as data: (name, doc, total, fields); a field is
# (key, type, required, doc) as the settings' fields are.
WIRING_TYPES: list[tuple[str, str, bool, list[tuple[str, str, bool, str]]]] = [
    (
        "BackendArgs",
        "A data store an agent service uses: where its URL lives and how to reach it.",
        False,
        [
            ("store", "str", True, "`postgres` or `redis`: the service must have `uses_<store>`."),
            ("env_name", "str", True, "Environment variable that carries the URL (`DATABASE_URL`, `REDIS_URL`)."),
            ("secret_name", "str", True, "Secret in the namespace holding the URL under the key `secret_key`."),
            ("secret_key", "str", False, "Key of the URL in that Secret. Default: `env_name`."),
            ("port", "int", True, "Port of the data store (the NetworkPolicy's egress)."),
            (
                "in_cluster",
                "bool",
                False,
                "The store runs in the namespace: egress to its pods is allowed. Default: false.",
            ),
            (
                "checksum",
                "pulumi.Input[str]",
                False,
                "A digest of the Secret's content: on the pod template, so a new URL or password rolls the pods.",
            ),
            (
                "backup_cluster",
                "str",
                False,
                "A CloudNativePG Cluster to back up before each migration (an on-demand `Backup` the Job waits for).\n"
                "    Default: none.",
            ),
            (
                "backup_timeout_seconds",
                "int",
                False,
                "How long `pulumi up` waits for that Backup to complete. Default: 3600.",
            ),
            (
                "pod_labels",
                "dict[str, str]",
                False,
                "Labels that select the pods behind the store's address, the egress peer: for CloudNativePG the ones "
                "the\n    operator guarantees (`cnpg.io/poolerName`, or `cnpg.io/cluster` with `cnpg.io/podRole`), "
                "never a label it\n    overwrites. Default: the store's selector labels.",
            ),
        ],
    ),
    (
        "PeerArgs",
        "Another service of the namespace, by name, and the port its pods listen on.",
        True,
        [("name", "str", False, "Service name."), ("port", "int", False, "Its pods' port (the Service's targetPort).")],
    ),
    (
        "RouteArgs",
        "A service the Ingress routes to, and the path prefixes it owns.",
        False,
        [
            ("service", "str", True, "Service name (its Service's `http` port is the backend)."),
            ("paths", "list[str]", True, "Path prefixes, each starting with `/`."),
            (
                "canary_service",
                "str",
                False,
                "A canary Service taking `canary_weight` percent of these paths' requests (an ingress-nginx canary "
                "Ingress).",
            ),
            ("canary_weight", "int", False, "Percent of requests for the canary, 0-100. Default: 0."),
        ],
    ),
]


def _strip(annotation):
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _strip(typing.get_args(annotation)[0])
    return annotation


def type_source(annotation) -> str:
    annotation = _strip(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        assert len(inner) == 1, annotation
        return f"Optional[{type_source(inner[0])}]"
    if origin is typing.Literal:
        return type(args[0]).__name__
    if origin is list:
        return f"list[{type_source(args[0])}]"
    if origin is dict:
        return f"dict[str, {type_source(args[1])}]"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return SETTINGS[annotation]
    if annotation is typing.Any:
        return "Any"
    assert annotation in (str, int, bool, float), annotation
    return annotation.__name__


def _doc(field) -> str:
    text = (field.description or "").strip()
    literal = _strip(field.annotation)
    for arg in typing.get_args(literal) or ():
        if typing.get_origin(_strip(arg)) is typing.Literal:
            literal = _strip(arg)
    if typing.get_origin(literal) is typing.Literal:
        text += " One of: " + ", ".join(f"`{v}`" for v in typing.get_args(literal)) + "."
    if not field.is_required() and field.default is not PydanticUndefined and field.default is not None:
        default = json.dumps(to_jsonable_python(field.default, by_alias=False), sort_keys=True)
        if len(default) <= 120:
            text += f" Default: `{default}`."
        else:
            text += " Default: see the package's configuration reference."
    return text.replace('"""', "'''").replace("\\", "\\\\")


def _fields(model: type[BaseModel], skip=()) -> list[tuple[str, str, bool, str]]:
    return [
        (name, type_source(f.annotation), f.is_required(), _doc(f))
        for name, f in model.model_fields.items()
        if name not in skip
    ]


def _typed_dict(name: str, doc: str, fields: list[tuple[str, str, bool, str]], total: bool = False) -> str:
    lines = [f"\n\nclass {name}(TypedDict{'' if total else ', total=False'}):", f'    """{doc}"""', ""]
    for key, source, required, text in fields:
        lines.append(f"    {key}: {'Required[' + source + ']' if required and not total else source}")
        if text:
            lines.append(f'    """{text}"""')
    return "\n".join(lines) + "\n"


def args_name(model: type[BaseModel]) -> str:
    """The one naming rule: `<Model>Args`, without a `Config`/`Settings` suffix; a model a component
    takes whole is `<Model>SettingsArgs`, beside that component's own `<Component>Args`."""
    base = model.__name__.removesuffix("Config").removesuffix("Settings")
    return f"{base}SettingsArgs" if model in _TAKEN_WHOLE else f"{base}Args"


def _nested_models(annotation) -> list[type[BaseModel]]:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _nested_models(arg)]


def _settings_models() -> list[type[BaseModel]]:
    """Every settings model the components' args reach, each after the models it nests (args.py has
    no postponed annotations, so a TypedDict must follow the ones it names)."""
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        for field in model.model_fields.values():
            for nested in _nested_models(field.annotation):
                if nested not in seen:
                    visit(nested)
                    seen.append(nested)

    for model, _skip, _wiring in COMPONENTS.values():
        visit(model)
    return seen


_TAKEN_WHOLE = {model for model, _skip, _wiring in COMPONENTS.values()}
# Settings models nested in a component's args, by the name their TypedDict gets.
SETTINGS = {model: args_name(model) for model in _settings_models()}


def render() -> str:
    out = [
        '"""Typed args of the agent_platform components (generated by `python -m agent_platform.codegen`; do not '
        "edit).\n\n"
        "Keys are snake_case; a Pulumi schema and YAML programs use the same keys in camelCase.\n"
        'Only the keys a component needs are required; every other one has the secure default documented here.\n"""\n\n'
        "# No `from __future__ import annotations`: the component provider's analyzer reads these\n"
        "# annotations as types, not strings.\n"
        "from typing import Any, Optional, Required, TypedDict\n\nimport pulumi\n"
    ]
    for name, doc, total, fields in WIRING_TYPES:
        out.append(_typed_dict(name, doc, fields, total))
    for model, name in SETTINGS.items():
        doc = (model.__doc__ or "").strip()
        if not doc or doc.startswith("A base class") or "camelCase keys" in doc:
            doc = f"Settings: {model.__name__}."
        out.append(_typed_dict(name, " ".join(doc.split()), _fields(model)))
    for name, (model, skip, wiring) in COMPONENTS.items():
        doc = f"Args of {name.removesuffix('Args')}."
        out.append(_typed_dict(name, doc, _fields(model, skip) + list(wiring)))
    return "".join(out)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if TARGET.read_text() != text:
            print(f"{TARGET}: out of date; run `python -m agent_platform.codegen`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
