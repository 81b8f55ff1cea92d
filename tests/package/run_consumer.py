"""Run a Pulumi program under the SDK's mocks and print what it registered, as JSON.

    <venv>/bin/python run_consumer.py PROGRAM_DIR PROJECT STACK CONFIG_JSON SECRET_KEYS_JSON

Started by tests/package/test_wheel.py with the python of a fresh virtual environment that
has only the built wheel (and its dependencies) installed, so the program can import
agent_platform from nowhere but that wheel. It deliberately imports nothing of this
repository (this file's folder, not the repository root, is on sys.path).
"""

import json
import os
import runpy
import sys

from agent_platform.testing import PlatformMocks
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await


class Recorder(mocks.MockMonitor):
    def __init__(self, m):
        super().__init__(m)
        self.registered = []

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        self.registered.append(
            {
                "type": request.type,
                "name": request.name,
                "urn": response.urn,
                "parent": request.parent,
                "custom": bool(request.custom),
            }
        )
        return response


def main() -> None:
    program_dir, project, stack, config, secret_keys = sys.argv[1:6]
    # The package's own mocks, from the installed wheel: what a consumer's tests use (agent_platform.testing).
    monitor = Recorder(PlatformMocks())
    settings.ROOT.set(None)
    runtime_config.set_all_config(json.loads(config), json.loads(secret_keys))
    mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
    os.chdir(program_dir)
    sys.path.insert(0, program_dir)
    _sync_await(run_pulumi_func(lambda: runpy.run_path("__main__.py", run_name="__main__")))
    import agent_platform

    print(
        json.dumps(
            {
                "agent_platform": agent_platform.__file__,
                "version": agent_platform.__version__,
                "registered": monitor.registered,
            }
        )
    )


if __name__ == "__main__":
    main()
