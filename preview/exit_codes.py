"""The preview's exit codes (README, docs/preview.md), shared by the CLI and its phase worker."""

EXIT_OK = 0
EXIT_INVALID = 1  # a validation finding, a mandatory policy violation, a blocked change, a cut path
EXIT_BAD_INPUT = 2  # every problem on its own `error:` line, no traceback
EXIT_BUG = 3  # a traceback, then a line asking to report it
