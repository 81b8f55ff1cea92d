"""Set a stack's secret config in CI from one GitHub secret, never through argv or logs.

    STACK_SECRETS='{"openaiApiKey": "...", ...}' venv/bin/python tools/stack_secrets.py STACK [--check]

The stack files hold no `secure:` values (each machine or CI run sets them), so a CI
`pulumi preview`/`up` must set every secret key the program requires first. The keys are
the ones the stack file names (`secretEnv`, `externalUrlKey`), read from the same model
the program validates with. CI keeps them as one JSON object per stack, the environment
secret `STACK_SECRETS_<STACK>` of the job's GitHub environment, passed to this script as
`STACK_SECRETS` (docs/deploying.md); each value reaches `pulumi config set --secret` on
stdin, as the CLI documents for piped values, so it never appears in a process list or a log.

--check validates only (names, never values) and runs nothing. Exit 2 with one line
naming the stack and key on bad input, or the key pulumi failed to set; nothing is set
unless every key is present.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_platform.settings.errors import ConfigError  # noqa: E402

from preview.stackfile import StackFileError, read_stack_config  # noqa: E402
from program.stack_config import TOP_LEVEL_KEYS, parse_stack_config, read_project_config  # noqa: E402

ENV = "STACK_SECRETS"


class SecretsError(Exception):
    pass


def required_keys(project_dir: Path, stack: str) -> list[str]:
    """The secret config keys the program will ask for on this stack (sorted)."""
    inputs = read_stack_config(project_dir, stack)
    values = read_project_config(inputs.config)
    config = parse_stack_config({k: v for k, v in values.items() if k in TOP_LEVEL_KEYS}, inputs.source)
    return config.secret_keys()


def plan(stack: str, needed: list[str], raw: str | None) -> list[tuple[str, str]]:
    """(key, value) pairs to set, or SecretsError naming the first problem (never a value)."""
    if not needed:
        return []
    if not raw:
        raise SecretsError(f"{ENV}: not set; stack {stack} needs {', '.join(needed)}")
    try:
        given = json.loads(raw)
    except ValueError as error:
        raise SecretsError(f"{ENV}: not a JSON object ({error.msg} at character {error.pos})") from None
    if not isinstance(given, dict):
        raise SecretsError(f"{ENV}: must be a JSON object of config key -> value, got a {type(given).__name__}")
    missing = [k for k in needed if not isinstance(given.get(k), str) or not given[k]]
    if missing:
        raise SecretsError(f"{ENV}: {missing[0]}: missing or empty (stack {stack} needs {', '.join(needed)})")
    return [(k, given[k]) for k in needed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/stack_secrets.py", description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument("--check", action="store_true", help="validate only; set nothing")
    args = parser.parse_args(argv)
    try:
        needed = required_keys(ROOT, args.stack)
        pairs = plan(args.stack, needed, os.environ.get(ENV))
    except (StackFileError, ConfigError, SecretsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for key, value in pairs:
        if not args.check:
            try:
                set_secret(args.stack, key, value)
            except SecretsError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
        print(f"{'ok' if args.check else 'set'}: {args.stack}: {key} (secret)")
    return 0


def set_secret(stack: str, key: str, value: str) -> None:
    """`pulumi config set --secret` with the value on stdin; SecretsError naming the key (never the value)."""
    command = ["pulumi", "config", "set", "--secret", "--stack", stack, key]
    try:
        result = subprocess.run(
            command, input=value, text=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except FileNotFoundError:
        raise SecretsError(f"{key}: the pulumi CLI is not on PATH (stack {stack})") from None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1].replace(value, "[secret]")
        raise SecretsError(f"{key}: pulumi config set --secret --stack {stack} exited {result.returncode}: {reason}")


if __name__ == "__main__":
    sys.exit(main())
