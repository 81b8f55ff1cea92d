"""Inputs judged strictly, messages a person can read, and no credential in a setting or a message.

Each case plants one defect into a shipped stack file (or the stack file's text) and expects the
exact problem; tests/preview/test_bad_input.py runs the same cases through the command line.
"""

from __future__ import annotations

import json
import re
import time
import types
import typing
from collections.abc import Iterator

import pytest
import yaml
from agent_platform.settings.errors import CREDENTIAL_SHAPES, ConfigError, credential_shape, shown
from agent_platform.settings.stack import StackConfig
from agent_platform.settings.values import HostName, HttpPath
from pydantic import BaseModel, TypeAdapter, ValidationError

from preview.engine import ProgramError
from program import stack_file
from program.stack_config import PROJECT, STRING_KEYS, check_stack, read_project_config
from program.stack_lines import located
from tests.conftest import ROOT, capture_with, unlined
from tests.conftest import stack_file as shipped_file

SERVICES = "agent-platform:services"
# Canaries of each credential shape (none is a real credential).
OPENAI = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd"
ANTHROPIC = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
CANARIES = [
    ANTHROPIC,
    OPENAI,
    "sk-" + "a1B2c3D4" * 6,
    "ghp_" + "A1b2C3d4E5" * 4,
    "xoxb-1234567890-abcdefghij",
    "AKIAIOSFODNN7EXAMPLE",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl",
    "postgresql://app:hunter2@db.example.com/app",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
]


def problems_of(tmp_path, stack: str, mutate) -> str:
    """The preview's problem lines for the shipped `stack` changed by `mutate`, each at a line of the
    file (shown here without its number: the file is the shipped one as PyYAML writes it)."""
    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, stack, mutate)
    text = str(info.value)
    assert "Traceback" not in text and all(re.match(rf"Pulumi\.{stack}\.yaml:\d+: ", x) for x in text.splitlines())
    return unlined(text)


def set_in(*path, value):
    def mutate(cfg):
        node = cfg
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
        node[path[-1]] = value

    return mutate


# --- Inputs accepted that should not be ---------------------------------------------------------


def _numbers(model: type[BaseModel], seen: set) -> Iterator[tuple[str, object]]:
    """Every integer and fractional value of every model reachable from `model`: (where, (the type a
    value there is validated against, int or float)); inside a list or dict, the element's type."""
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        whole = typing.Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        stack: list[tuple[object, object]] = [(field.annotation, whole)]
        while stack:
            inner, checked = stack.pop()
            origin = typing.get_origin(inner)
            if origin is typing.Annotated:
                stack.append((typing.get_args(inner)[0], checked if checked is not None else inner))
            elif origin in (typing.Union, types.UnionType):
                stack.extend((arg, checked) for arg in typing.get_args(inner))
            elif origin in (list, dict):
                stack.append((typing.get_args(inner)[-1], None))
            elif isinstance(inner, type) and issubclass(inner, BaseModel):
                yield from _numbers(inner, seen)
            elif inner in (int, float):
                yield f"{model.__name__}.{name}", (checked if checked is not None else inner, inner)


NUMBERS = sorted(_numbers(StackConfig, set()), key=lambda number: number[0])


def test_the_model_has_numbers_to_check():
    assert len(NUMBERS) > 40 and any(kind is float for _, (_, kind) in NUMBERS)


@pytest.mark.parametrize("where,annotation", NUMBERS, ids=[w for w, _ in NUMBERS])
def test_no_number_in_the_model_takes_a_boolean(where, annotation):
    annotation, kind = annotation
    for value in (True, False):
        with pytest.raises(ValidationError) as info:
            TypeAdapter(annotation).validate_python(value)
        assert "not the boolean" in str(info.value)
    too_big = 2**31 if kind is int else float("inf")
    with pytest.raises(ValidationError):
        TypeAdapter(annotation).validate_python(too_big)


def test_retention_days_true_is_not_one_day(tmp_path):
    text = problems_of(tmp_path, "local", set_in("agent-platform:postgres", "backup", "retentionDays", value=True))
    assert (
        text
        == "Pulumi.local.yaml: agent-platform:postgres.backup.retentionDays: must be a number, not the boolean true"
    )


@pytest.mark.parametrize(
    "path,what",
    [
        ("/api\x07", "it holds a control character (U+0007)"),
        ("/api\n", "it holds a control character (U+000A)"),
        ("/a b", "it holds ' '"),
        ("/a#b", "it holds '#'"),
        ("/a//b", "must not contain '//'"),
        ("/a/%2Fb", "must not contain '%2F'"),
        ("/a/..", "must not end with '/.' or '/..'"),
        ("api", "must be an absolute path"),
        ("/" + "a" * 1024, "must be at most 1024 characters"),
    ],
)
def test_ingress_paths_follow_the_api_servers_grammar(path, what):
    with pytest.raises(ValidationError) as info:
        TypeAdapter(HttpPath).validate_python(path)
    assert what in str(info.value)


@pytest.mark.parametrize("path", ["/", "/api", "/api/v1/", "/a-b_c.d~e", "/%41", "/runs:stream", "/@me"])
def test_ingress_paths_that_are_fine(path):
    assert TypeAdapter(HttpPath).validate_python(path) == path


def test_a_control_character_in_an_ingress_path_is_refused_at_its_line(tmp_path):
    text = problems_of(tmp_path, "dev", set_in(SERVICES, 0, "ingress", "paths", value=["/api\x07"]))
    assert text.startswith(
        "Pulumi.dev.yaml: agent-platform:services[agent-api].ingress.paths[0]: must be a URL path (a-z, A-Z, 0-9, "
        "-._~!$&'()*+,;=:@/ and %XX escapes); it holds a control character (U+0007), got '/api\\x07'"
    )


@pytest.mark.parametrize(
    "host,what",
    [("agents.example.com\n", "must be a lowercase DNS name"), ("10.0.0.1", "must be a DNS name, not an IP address")],
)
def test_an_ingress_host_is_a_dns_name_and_nothing_after_it(host, what):
    with pytest.raises(ValidationError) as info:
        TypeAdapter(HostName).validate_python(host)
    assert what in str(info.value)


def test_a_name_with_a_trailing_newline_is_refused(tmp_path):
    text = problems_of(tmp_path, "dev", set_in(SERVICES, 0, "name", value="agent-api\n"))
    assert "agent-platform:services[0].name: must be a lowercase DNS-1035 label" in text


def test_replicas_past_int32_are_refused(tmp_path):
    text = problems_of(tmp_path, "prod", set_in(SERVICES, 0, "autoscaling", "maxReplicas", value=3_000_000_000))
    assert (
        "agent-platform:services[agent-api].autoscaling.maxReplicas: must be at most 2147483647, the Kubernetes API's "
        "largest integer (int32), got 3000000000" in text
    )


@pytest.mark.parametrize("replicas", [101, 2000, 1_000_000])
def test_a_docker_host_runs_at_most_100_replicas_of_a_service(tmp_path, replicas):
    text = problems_of(tmp_path, "local", set_in(SERVICES, 0, "replicas", value=replicas))
    assert text.startswith(
        f"Pulumi.local.yaml: agent-platform:services[agent-api].replicas: must be at most 100 on a Docker host, "
        f"got {replicas}: "
    )


# The secrets dev names, set as `pulumi config set --secret` sets them.
SECRETS = {f"{PROJECT}:openaiApiKey": "s1", f"{PROJECT}:langsmithApiKey": "s2"}


def _check(text: str, raw: dict | None = None, secret: set | None = None) -> list[str]:
    """The located problems of a stack file's text (checked as the preview and the program check it)."""
    raw = {**SECRETS, **(raw if raw is not None else _raw(text))}
    try:
        check_stack(raw, set(SECRETS) | (secret or set()), "S.yaml", text)
    except ConfigError as error:
        return located(error.problems, "S.yaml", text, PROJECT)
    return []


def _raw(text: str) -> dict:
    """The engine's flat map for a stack file, as the preview builds it (a key without a namespace
    gets the project's)."""
    config = (yaml.safe_load(text) or {}).get("config") or {}
    raw = {}
    for key, value in config.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        raw[full] = value if isinstance(value, str) else json.dumps(value)
    return raw


def _dev(change) -> str:
    return change((ROOT / "Pulumi.dev.yaml").read_text())


def test_a_key_without_the_namespace_is_refused_as_pulumi_refuses_it():
    text = _dev(lambda t: t.replace("  agent-platform:services:", "  services:"))
    assert _check(text) == [
        "S.yaml:21: services: a config key needs its namespace: write agent-platform:services (Pulumi reads config "
        "keys as <namespace>:<name> and refuses this one)"
    ]


def test_pulumis_older_config_form_of_a_key_is_read_as_pulumi_reads_it():
    text = _dev(lambda t: t.replace("  agent-platform:services:", "  agent-platform:config:services:"))
    assert _check(text) == []


def test_a_secure_value_must_be_a_string():
    text = _dev(lambda t: t.replace("config:\n", "config:\n  agent-platform:openaiApiKey:\n    secure: [a, b]\n", 1))
    assert _check(text, secret={f"{PROJECT}:openaiApiKey"}) == [
        "S.yaml:6: agent-platform:openaiApiKey: secure: must be the encrypted string `pulumi config set --secret "
        "openaiApiKey` writes, not a list (Pulumi reads any other secure: as a plain value, not a secret)"
    ]


def test_a_setting_stored_as_a_secret_is_refused():
    # The preview can only fill a placeholder in, which became the environment label.
    raw = {**_raw(_dev(lambda t: t)), f"{PROJECT}:environment": "preview-placeholder-environment"}
    assert _check(_dev(lambda t: t), raw, {f"{PROJECT}:environment"}) == [
        "S.yaml:6: agent-platform:environment: is a setting, not a secret: write its value in plain (`pulumi config "
        "set environment <value>`); secrets are the keys that secretEnv and externalUrlKey name"
    ]


@pytest.mark.parametrize("written,kind", [("123", "a number"), ("true", "a boolean"), ("no", "a boolean")])
def test_a_name_written_as_a_number_or_boolean_is_refused(written, kind):
    text = _dev(lambda t: t.replace("agent-platform:environment: dev", f"agent-platform:environment: {written}"))
    assert _check(text) == [
        f'S.yaml:6: agent-platform:environment: must be a string, not {kind}: quote it ("{written}")'
    ]


def test_a_name_that_looks_like_a_number_is_fine_quoted():
    text = _dev(lambda t: t.replace("agent-platform:environment: dev", 'agent-platform:environment: "123"'))
    assert _check(text) == []
    assert read_project_config({f"{PROJECT}:environment": "123"}) == {"environment": "123"}
    assert "environment" in STRING_KEYS and "services" not in STRING_KEYS


# --- Messages a person can read ---------------------------------------------------------------


def test_a_long_value_is_shown_shortened_with_its_length(tmp_path):
    text = problems_of(tmp_path, "dev", set_in(SERVICES, 0, "image", value="X" * 1_000_000))
    assert text.endswith("got 'XXXXXXXXXX" + "X" * 108 + "... (1,000,000 characters)")
    assert len(text) < 400


def test_a_long_key_is_shown_shortened(tmp_path):
    text = problems_of(tmp_path, "dev", set_in(SERVICES, 0, "k" * 100_000, value=1))
    assert "... (100,000 characters): unknown key" in text and len(text) < 400


def test_a_long_connection_budget_names_the_total_and_the_three_largest_terms(tmp_path):
    def hundred(cfg):
        api = cfg[SERVICES][0]
        cfg[SERVICES][:1] = [
            {**api, "name": f"api-{i:03d}", "ingress": {"paths": [f"/p{i}"]}, "databasePoolSize": 5 + (i == 7) * 2}
            for i in range(100)
        ]

    text = problems_of(tmp_path, "prod", hundred)
    assert (
        "agent-platform:postgres.pooler.maxClientConn: connection budget: 11596 connections at worst (301 terms, the "
        "largest: services[7] api-007: 21 pods x 7 = 147; services[0] api-000: 21 pods x 5 = 105; services[1] "
        "api-001: 21 pods x 5 = 105; and 298 more) exceed 1000, " in text
    )
    assert text.endswith("raise pooler.maxClientConn or lower services[].databasePoolSize or the autoscaling maxima")
    assert len(text) < 700


BILLION_LAUGHS = "config:\n  agent-platform:x:\n" + "".join(
    f"    {chr(97 + i)}: &{chr(97 + i)} [{', '.join(['*' + chr(96 + i)] * 9) if i else 'lol'}]\n" for i in range(9)
)
WHOLE_FILE = [
    ("", "S.yaml:1: is empty: a stack file holds its settings under config:"),
    ("# nothing yet\n", "S.yaml:1: is empty: a stack file holds its settings under config:"),
    ("encryptionsalt: v1:abc\n", "S.yaml:1: has no config: section: a stack file holds its settings under config:"),
    ("- a\n- b\n", "S.yaml:1: must be a YAML mapping with a config: key, not a list"),
    ("config:\n", "S.yaml:1: config: is empty: a stack file holds its settings under config:"),
    ("config:\n  - a\n", "S.yaml:1: config: must be a mapping of keys to values, not a list"),
    (
        "config:\n  a: " + "[" * 100 + "]" * 100 + "\n",
        "S.yaml:1: nested more than 64 levels deep (at line 2, column 68)",
    ),
    (
        "config:\n  a: " + "[" * 400_000 + "]" * 400_000 + "\n",  # libyaml's composer crashes on this
        "S.yaml:1: nested more than 64 levels deep (at line 2, column 68)",
    ),
    (
        BILLION_LAUGHS,
        "S.yaml:1: expands to more than 200,000 values through its aliases (*name), from line 9 on; a stack file "
        "this large is not supported",
    ),
]


@pytest.mark.parametrize("text,line", WHOLE_FILE, ids=[w[1].split(": ", 1)[1][:30] for w in WHOLE_FILE])
def test_a_problem_of_the_whole_file_is_one_line_at_line_1(text, line):
    assert _check(text, raw={}) == [line]
    assert [p.at("S.yaml") for p in stack_file.problems(text, PROJECT)] == [line]


YAML_ERRORS = [
    ("config:\n\tagent-platform:environment: dev\n", "2:1: malformed YAML: a tab character: YAML indents with spaces"),
    ("config:\n  a: b\x07c\n", "2:7: malformed YAML: a control character (U+0007) is not allowed in YAML; remove it"),
    ("config:\n  a: dev\n    b: 1\n", "3:6: malformed YAML: a ': ' where a value was expected"),
    ("config:\n  a: 1\n  - b\n", "3:3: malformed YAML: a line at an indentation where no key fits"),
    ('config:\n  a: "dev\n', "2:6: malformed YAML: a quoted string that is never closed"),
    ("config:\n  a: @x\n", "2:6: malformed YAML: '@' cannot start a value (quote the value)"),
    ("config:\n  a: *nope\n", "2:6: malformed YAML: an alias (*name) of no anchor (&name) above it"),
    ("config: {}\n---\nconfig: {}\n", "2:1: holds more than one YAML document (---): a stack file is one"),
]


@pytest.mark.parametrize("text,line", YAML_ERRORS, ids=[e[1].split(": ", 2)[-1][:30] for e in YAML_ERRORS])
def test_a_yaml_error_is_one_line_at_its_line_and_column(text, line):
    (problem,) = stack_file.problems(text, PROJECT)
    assert problem.at("S.yaml").startswith(f"S.yaml:{line}")
    assert "\n" not in problem and "<" not in problem and "Mark" not in problem


# --- Secrets: never in a setting's plain text, never in a message ------------------------------


def test_every_credential_shape_has_a_source_and_a_canary():
    assert all(source for _, _, source in CREDENTIAL_SHAPES)
    found = {credential_shape(canary) for canary in CANARIES}
    assert {what for what, _, _ in CREDENTIAL_SHAPES} <= found


@pytest.mark.parametrize("canary", CANARIES, ids=[c[:12] for c in CANARIES])
def test_a_credential_is_never_shown(canary):
    assert canary not in shown(canary) and "not shown" in shown(canary)
    assert canary not in shown(f"Bearer {canary}")


@pytest.mark.parametrize(
    "value",
    [
        "gpt-4o-mini",
        "openaiApiKey",
        "https://api.example.com/v1",
        "postgresql://db.example.com:5432/app",
        "task-runner-production-eu-west-1",
        "ThisIsMyVeryLongConfigurationValue2024",
        "sha256:3b1f0c2d4e5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0",
        "6a2d5966c786a63549882c0739a34c82d4dc1fdb",
        "/usr/local/lib/python3.11/site-packages/agent",
        # Paths of words, capitals starting them: taken for random tokens before the case-change test.
        "/models/Llama-3-70B-Instruct/v2/weights",
        "/tmp/pytest-of-root/pytest-215/test_refused_input_in_json_is_0/Pulumi.dev.yaml",
    ],
)
def test_ordinary_values_are_not_credentials(value):
    assert credential_shape(value) is None


@pytest.mark.parametrize("value", ["a-" * 500_000, "eyJ" * 330_000, "a://b:" * 160_000, "-----BEGIN " * 90_000])
def test_looking_for_a_credential_takes_linear_time(value):
    # An unbounded `scheme://` part took 1.6 s on 40 kB of `a-a-a-...` and grew with the square.
    started = time.monotonic()
    assert credential_shape(value) is None and shown(value).endswith("characters)")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("stack", ["dev", "prod", "local", "e2e", "e2e-aegra"])
def test_no_shipped_stack_holds_anything_credential_shaped(stack):
    def strings(node):
        if isinstance(node, dict):
            for key, value in node.items():
                yield str(key)
                yield from strings(value)
        elif isinstance(node, list):
            for item in node:
                yield from strings(item)
        else:
            yield str(node)

    assert [s for s in strings(shipped_file(stack)) if credential_shape(s)] == []


def test_a_key_where_a_secrets_name_goes_is_refused_without_echoing_it(tmp_path):
    text = problems_of(tmp_path, "dev", set_in(SERVICES, 0, "secretEnv", "OPENAI_API_KEY", value=OPENAI))
    assert OPENAI not in text and "sk-proj-A" not in text
    assert text == (
        "Pulumi.dev.yaml: agent-platform:services[agent-api].secretEnv.OPENAI_API_KEY: is an OpenAI project key "
        "(sk-proj-...) itself (not shown here), where the NAME of a secret config key goes: store the value with "
        "`pulumi config set --secret <name>`, write that name here, and rotate the credential: it has been in this file"
    )


@pytest.mark.parametrize("canary", CANARIES, ids=[c[:12] for c in CANARIES])
def test_a_credential_in_plain_env_is_refused_without_echoing_it(tmp_path, canary):
    text = problems_of(tmp_path, "dev", set_in(SERVICES, 0, "env", "ANTHROPIC_API_KEY", value=canary))
    assert canary not in text
    assert text.startswith("Pulumi.dev.yaml: agent-platform:services[agent-api].env.ANTHROPIC_API_KEY: holds ")
    assert text.endswith(
        ", not shown here, which would be written in plain into rendered files and reports: store it with `pulumi "
        "config set --secret <name>` and name it under secretEnv instead, then rotate it: it has been in this file"
    )


@pytest.mark.parametrize(
    "where",
    [
        ("agent-platform:annotations", "example.com/token"),
        (SERVICES, 0, "podAnnotations", "example.com/token"),
        (SERVICES, 0, "args"),
        (SERVICES, 0, "command"),
    ],
)
def test_a_credential_in_other_plain_text_is_refused_without_echoing_it(tmp_path, where):
    value = [ANTHROPIC] if where[-1] in ("args", "command") else ANTHROPIC
    text = problems_of(tmp_path, "dev", set_in(*where, value=value))
    assert ANTHROPIC not in text and "holds an Anthropic API key (sk-ant-...), not shown here" in text


def test_a_credential_given_as_a_key_is_not_echoed(tmp_path):
    text = problems_of(tmp_path, "dev", set_in(SERVICES, 0, "env", OPENAI, value="x"))
    assert OPENAI not in text and "not shown" in text
