"""A stack captured: its stack file read and checked, the program run under mocks in one engine phase.

One call from a stack name to what the program declares: config in, captured resources out
(preview/engine.py runs the program; the top-level `program/` is the program's own stack-file loading).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from agent_platform.settings.errors import ConfigError

from preview.engine import Capture, ProgramError, run_program
from preview.stackfile import StackConfigInput, StackFileError, add_required_secrets, display, read_stack_config
from program.stack_config import (
    CONFIG_SOURCE_ENV,
    PROJECT,
    TOP_LEVEL_KEYS,
    check_stack,
    parse_stack_config,
    read_project_config,
)
from program.stack_lines import located


class BadInput(Exception):
    """What the user gave cannot be previewed: one line per problem, reported as `error:` lines, exit 2."""


def stack_inputs(project_dir: Path, stack: str, config_file: Path | None = None) -> StackConfigInput:
    """The stack's config as the CLI would pass it, with every secret the program will ask for.

    The config is checked here as the program checks it, before the program runs: what is wrong
    comes as one line per problem on the stack file's line (the program, which sees only the
    engine's flat map, cannot say which line).
    """
    inputs = read_stack_config(project_dir, stack, config_file)
    if inputs.project != PROJECT:
        # Another team's program on the components (examples/consumer): its config is its own, read by
        # its program; the components check their args as they are constructed. The secrets its
        # Pulumi.yaml declares (`secret: true`) are filled as this project's own are.
        return add_required_secrets(inputs, tuple(k.partition(":")[2] for k in inputs.declared_secrets))
    values = read_project_config(inputs.config)
    try:
        needed = tuple(parse_stack_config({k: v for k, v in values.items() if k in TOP_LEVEL_KEYS}).secret_keys())
    except ConfigError:
        needed = ()
    inputs = add_required_secrets(inputs, needed)
    try:
        inputs.settings = check_stack(inputs.config, set(inputs.secret_keys), inputs.source)
    except ConfigError as error:
        raise ProgramError("\n".join(located(error.problems, inputs.source, inputs.text, inputs.project))) from None
    return inputs


def capture_stack(
    project_dir: Path,
    stack: str,
    config_file: Path | None = None,
    phase: str = "up",
    inputs: StackConfigInput | None = None,
) -> tuple[StackConfigInput, Capture]:
    """The stack's config read and checked (or `inputs`, already read), and the program run in `phase`."""
    inputs = inputs or stack_inputs(project_dir, stack, config_file)
    return inputs, run_program(project_dir, inputs.project, stack, inputs.config, inputs.secret_keys, phase)


@contextlib.contextmanager
def _named_source(stack: str, config_file: Path | None) -> Iterator[None]:
    """Config errors name the file they came from (program/stack_config.py CONFIG_SOURCE_ENV), and bad
    input is BadInput."""
    previous = os.environ.get(CONFIG_SOURCE_ENV)
    os.environ[CONFIG_SOURCE_ENV] = display(config_file) if config_file else f"Pulumi.{stack}.yaml"
    try:
        yield
    except (StackFileError, ProgramError) as error:
        raise BadInput(str(error)) from None
    finally:
        if previous is None:
            os.environ.pop(CONFIG_SOURCE_ENV, None)
        else:
            os.environ[CONFIG_SOURCE_ENV] = previous


def checked_inputs(project_dir: Path, stack: str, config_file: Path | None) -> StackConfigInput:
    """stack_inputs with config errors naming the file they came from, and bad input as BadInput."""
    with _named_source(stack, config_file):
        return stack_inputs(project_dir, stack, config_file)


def capture_phase(
    project_dir: Path,
    stack: str,
    config_file: Path | None,
    phase: str = "up",
    inputs: StackConfigInput | None = None,
) -> tuple[StackConfigInput, Capture]:
    """capture_stack with config errors naming the file they came from, and bad input as BadInput."""
    with _named_source(stack, config_file):
        return capture_stack(project_dir, stack, config_file, phase, inputs)


def preload(inputs: StackConfigInput) -> None:
    """Import the component modules this project's program will import for the stack (its platform's),
    so that a process forked now starts with them (preview/phases.py). Another team's program: nothing."""
    if inputs.settings is not None:
        import agent_platform

        getattr(agent_platform, "AgentPlatform" if inputs.settings.platform == "kubernetes" else "DockerPlatform")
