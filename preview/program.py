"""One call from a stack name to what the program declares: config in, captured resources out."""

from __future__ import annotations

from pathlib import Path

from agent_platform.config import ConfigError

from preview.engine import Capture, ProgramError, run_program
from preview.stackfile import StackConfigInput, add_required_secrets, read_stack_config
from program.stack_config import TOP_LEVEL_KEYS, check_stack, parse_stack_config, read_project_config
from program.stack_lines import located


def stack_inputs(project_dir: Path, stack: str, config_file: Path | None = None) -> StackConfigInput:
    """The stack's config as the CLI would pass it, with every secret the program will ask for.

    The config is checked here as the program checks it, before the program runs: what is wrong
    comes as one line per problem on the stack file's line (the program, which sees only the
    engine's flat map, cannot say which line).
    """
    inputs = read_stack_config(project_dir, stack, config_file)
    values = read_project_config(inputs.config)
    try:
        needed = tuple(parse_stack_config({k: v for k, v in values.items() if k in TOP_LEVEL_KEYS}).secret_keys())
    except ConfigError:
        needed = ()
    inputs = add_required_secrets(inputs, needed)
    try:
        check_stack(inputs.config, set(inputs.secret_keys), inputs.source)
    except ConfigError as error:
        raise ProgramError("\n".join(located(error.problems, inputs.source, inputs.text, inputs.project))) from None
    return inputs


def capture_stack(
    project_dir: Path, stack: str, config_file: Path | None = None, phase: str = "up"
) -> tuple[StackConfigInput, Capture]:
    inputs = stack_inputs(project_dir, stack, config_file)
    return inputs, run_program(project_dir, inputs.project, stack, inputs.config, inputs.secret_keys, phase)
