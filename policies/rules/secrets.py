"""Rules that keep secrets in Secrets: not in ConfigMaps, not as literal env values."""

from __future__ import annotations

import re

from .base import Example, Resource, Unknown, resource_rule, stack_rule
from .k8s import CONFIGMAP, DEPLOYMENT, SECRET, WORKLOADS, containers, name_of, namespace_of, with_change
from .samples import deployment

# Variables that hold the *location* of a secret (POSTGRES_PASSWORD_FILE) are not secrets.
SECRET_LOCATION = re.compile(r"_(FILE|PATH|DIR)$", re.I)
SECRET_NAME = re.compile(r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|_dsn$|^dsn$)", re.I)
# Every repetition is bounded (or a fixed-length prefix match), so a search costs O(len(value)):
# the unbounded `scheme://user:pass@` form backtracked quadratically on long values. The user part
# may be empty (`redis://:password@host`, the form this project's Redis URLs take).
SECRET_VALUE = re.compile(
    r"(sk-[A-Za-z0-9_-]{16}|ghp_[A-Za-z0-9]{20}|AKIA[0-9A-Z]{16}|xox[bp]-[A-Za-z0-9-]{10}"
    r"|-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----|(?i:[a-z][a-z0-9+.-]{0,31}://[^/\s:@]{0,256}:[^/\s@]{1,256}@)"
    # schemeless `user:pass@host` (Go MySQL DSNs `user:pass@tcp(db:3306)/x`), password query parameters
    # (`jdbc:...?user=u&password=p`), and key=value DSNs (libpq `password=p`, ADO.NET `Password=p;`).
    r"|(?<![\w/:.-])[\w.-]{1,64}:[^\s/@:]{1,256}@[\w(]"
    r"|(?i:[?&;\s](?:password|passwd|pwd|access_token|api_key|apikey|secret)=[^\s&;$][^\s&;]{0,256})"
    r"|(?i:^(?:password|passwd|pwd)=[^\s&;$])"
    # HTTP credentials: an Authorization header value in any scheme, e.g. `Authorization=Bearer <JWT>` in a
    # header variable; RFC 6750 bearer tokens and RFC 7617 basic credentials (base64 of user:password, which
    # holds a digit, `+`, `/` or `=` where an English word would not); JWTs anywhere (base64url parts, the
    # first two JSON objects, so `eyJ`).
    r"|(?i:\bauthorization\s{0,4}[:=]\s{0,4}(?:basic|bearer|token|digest)\s{1,4}[^\s\"']{8})"
    r"|(?i:\bbearer\s{1,4}[A-Za-z0-9._~+/-]{20})"
    r"|\bBasic\s{1,4}(?=[A-Za-z+/]{0,1024}[0-9+/=])[A-Za-z0-9+/]{8,1024}={0,2}"
    r"|eyJ[A-Za-z0-9_-]{8,512}\.eyJ[A-Za-z0-9_-]{8,4096}\.)"
)

CONFIGMAP_GOOD = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "api", "namespace": "agents"},
    "data": {"LOG_LEVEL": "info", "LLM_MODEL": "gpt-4o-mini"},
}
GOOD = deployment()
C0 = "spec.template.spec.containers.0"


def looks_secret(key: str, value: str) -> str | None:
    if SECRET_VALUE.search(value or ""):
        return "its value looks like a credential"
    if SECRET_NAME.search(key or "") and not SECRET_LOCATION.search(key or "") and value:
        return "its name says it is a secret"
    return None


@resource_rule(
    "configmap-no-secrets",
    "ConfigMaps hold no secret-looking keys or values "
    "(ConfigMaps are not encrypted or access-controlled like Secrets).",
    "high",
    "Move the value to a Secret (secretEnv in the stack config: `pulumi config set --secret`).",
    (CONFIGMAP,),
    Example(CONFIGMAP_GOOD, with_change(CONFIGMAP_GOOD, "data.OPENAI_API_KEY", "sk-" + "x" * 24)),
    tags=("secrets",),
)
def configmap_no_secrets(props, config):
    for key, value in sorted((props.get("data") or {}).items()):
        why = looks_secret(key, str(value))
        if why:
            yield f"ConfigMap key {key}: {why}"


@resource_rule(
    "env-no-literal-secrets",
    "No credential-looking literal in a container's env values.",
    "critical",
    "Replace the literal with valueFrom.secretKeyRef and rotate the exposed credential.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.env.1.value", "postgresql://agent:hunter2@db:5432/agent")),
    tags=("secrets",),
)
def env_no_literal_secrets(props, config):
    for c in containers(props):
        for env in c.get("env") or []:
            if "value" in env and SECRET_VALUE.search(str(env.get("value") or "")):
                yield f"container {c.get('name')}: env {env.get('name')} holds a credential-looking literal"


@resource_rule(
    "secret-env-referenced",
    "Env vars named like secrets come from a Secret (secretKeyRef), not an inline value.",
    "high",
    "Use valueFrom.secretKeyRef for the variable, and keep the value in a Secret.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.env.1", {"name": "OPENAI_API_KEY", "value": "set-me"})),
    tags=("secrets",),
)
def secret_env_referenced(props, config):
    for c in containers(props):
        for env in c.get("env") or []:
            name = env.get("name", "")
            if SECRET_NAME.search(name) and not SECRET_LOCATION.search(name) and "value" in env:
                yield f"container {c.get('name')}: env {env.get('name')} is inlined, not a secretKeyRef"


# `--password=x`, `-p x`-style flags whose value is a literal (not a `$(VAR)` reference or a file path).
SECRET_FLAG = re.compile(
    r"""(?:^|\s)--?[\w-]{0,40}(?:pass(?:word|wd)?|token|secret|api[-_]?key)(?:=|\s+)(?!["']?[$/])\S""", re.I
)


# `NAME=value` shell assignments in a command string (`PGPASSWORD=x psql`, `export API_TOKEN=x`).
ASSIGNMENT = re.compile(r"(?:^|[\s;&|])(?:export\s+)?([A-Za-z_][A-Za-z0-9_]{0,60})=([^\s;&|]+)")
# redis-cli / valkey-cli `-a PASSWORD` and mysql's attached `-pPASSWORD`.
CLI_PASSWORD = re.compile(
    r"(?:\b(?:redis|valkey|keydb)-cli\b.*?\s-a\s+(?![$\"'])\S|\bmysql(?:dump|admin)?\b.*?\s-p(?![$\"'])\S)"
)


def credential_in_words(words: list[str]) -> int | None:
    """Index of the first command word that carries a literal credential (a $(VAR)/$VAR or file path is not one)."""
    for i, word in enumerate(words):
        pair = word if i + 1 == len(words) else f"{word} {words[i + 1]}"
        if SECRET_VALUE.search(word) or SECRET_FLAG.search(pair) or CLI_PASSWORD.search(" ".join(words[: i + 1])):
            return i
        for name, value in ASSIGNMENT.findall(word):
            if (
                SECRET_NAME.search(name)
                and not SECRET_LOCATION.search(name)
                and value.strip("\"'")[:1] not in ("$", "/", "")
            ):
                return i
    return None


@resource_rule(
    "args-no-literal-secrets",
    "No credential in a container's command or args (visible in `ps`, the API and every log of the pod spec).",
    "critical",
    "Pass the credential through a Secret-backed env var or mounted file and reference it ($(VAR) or a *_FILE path).",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.args", ["--requirepass=hunter2hunter2"])),
    tags=("secrets",),
)
def args_no_literal_secrets(props, config):
    for c in containers(props):
        index = credential_in_words([str(w) for w in (c.get("command") or []) + (c.get("args") or [])])
        if index is not None:
            yield f"container {c.get('name')}: command/args item {index} holds a credential-looking literal"


def _configmaps(resources) -> dict:
    return {
        (namespace_of(r.props), name_of(r.props)): r.props.get("data") or {} for r in resources if r.type == CONFIGMAP
    }


def _configmap_stack(consumer_env: list) -> list:
    cm = Resource.of(with_change(CONFIGMAP_GOOD, "data.DB_PASSWORD", "hunter2"), CONFIGMAP)
    workload = with_change(GOOD, f"{C0}.envFrom", consumer_env)
    return [Resource.of(workload, DEPLOYMENT), cm]


@stack_rule(
    "configmap-ref-no-secrets",
    "No credential reaches a container from ConfigMap data (env valueFrom.configMapKeyRef or envFrom.configMapRef).",
    "high",
    "Move the value to a Secret and use secretKeyRef / envFrom.secretRef.",
    Example(
        [Resource.of(GOOD, DEPLOYMENT), Resource.of(CONFIGMAP_GOOD, CONFIGMAP)],
        _configmap_stack([{"configMapRef": {"name": "api"}}]),
    ),
    tags=("secrets",),
    reads=(CONFIGMAP, *WORKLOADS),
)
def configmap_ref_no_secrets(resources, config):
    maps = _configmaps(resources)
    for r in resources:
        if r.type not in WORKLOADS:
            continue
        ns = namespace_of(r.props)
        for c in containers(r.props):
            where = f"{r.props.get('kind')} {name_of(r.props)} container {c.get('name')}"
            for env in c.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
                if not ref:
                    continue
                data = maps.get((ns, ref.get("name")))
                value = str(data.get(ref.get("key"), "")) if data is not None else None
                if (
                    value is None
                    and SECRET_NAME.search(env.get("name", ""))
                    and not SECRET_LOCATION.search(env.get("name", ""))
                ):
                    yield (
                        f"{where}: env {env.get('name')} is named as a secret but comes from ConfigMap "
                        f"{ref.get('name')}",
                        r.urn,
                    )
                elif value is not None and looks_secret(env.get("name", ""), value):
                    yield (
                        (
                            f"{where}: env {env.get('name')} from ConfigMap {ref.get('name')} key {ref.get('key')}: "
                            f"{looks_secret(env.get('name', ''), value)}"
                        ),
                        r.urn,
                    )
            for source in c.get("envFrom") or []:
                ref = source.get("configMapRef")
                data = maps.get((ns, (ref or {}).get("name")))
                for key, value in sorted((data or {}).items()):
                    why = looks_secret(f"{source.get('prefix') or ''}{key}", str(value))
                    if why:
                        yield f"{where}: envFrom ConfigMap {ref.get('name')} key {key}: {why}", r.urn


def _annotation_maps(props) -> list[tuple[str, dict]]:
    """The object's annotations and, for pod-bearing kinds, its pod template's."""
    maps = [("metadata", (props.get("metadata") or {}).get("annotations") or {})]
    spec = props.get("spec") or {}
    if props.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template") if isinstance(spec, dict) else None
    if isinstance(template, dict):
        maps.append(("pod template", (template.get("metadata") or {}).get("annotations") or {}))
    return maps


ANNOTATED = with_change(GOOD, "metadata.annotations", {"example.com/owner": "agents@example.com"})


@resource_rule(
    "annotations-no-secrets",
    "No credential-looking value in an object's annotations or its pod template's (annotations are readable by "
    "anyone who can get the object, and copied into events and tools' output).",
    "critical",
    "Remove the credential from the annotation (common `annotations`, `podAnnotations`) and rotate it.",
    ("kubernetes:*",),
    Example(
        ANNOTATED,
        with_change(
            ANNOTATED,
            "spec.template.metadata.annotations",
            {"example.com/webhook": "Authorization: Bearer " + "x" * 24},
        ),
    ),
    tags=("secrets",),
)
def annotations_no_secrets(props, config):
    for where, values in _annotation_maps(props):
        for key, value in sorted(values.items()):
            if isinstance(value, Unknown):  # a computed checksum, unknown on a first preview: no literal
                continue
            if SECRET_VALUE.search(str(value)):
                yield f"{where} annotation {key}: its value looks like a credential"


TOKEN_SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "api", "namespace": "agents"},
    "type": "Opaque",
    "stringData": {"OPENAI_API_KEY": "[secret]"},
}


@resource_rule(
    "no-long-lived-token-secret",
    "No Secret of type kubernetes.io/service-account-token: such a token never expires; pods get short-lived "
    "projected tokens from the TokenRequest API (kubernetes.io/docs/concepts/configuration/secret/, "
    "ServiceAccount token Secrets).",
    "high",
    "Drop the token Secret; use a projected serviceAccountToken volume or the TokenRequest API.",
    (SECRET,),
    Example(TOKEN_SECRET, with_change(TOKEN_SECRET, "type", "kubernetes.io/service-account-token")),
    tags=("secrets", "rbac"),
)
def no_long_lived_token_secret(props, config):
    if props.get("type") == "kubernetes.io/service-account-token":
        yield "a long-lived ServiceAccount token Secret"
