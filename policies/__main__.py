"""The agent-platform CrossGuard policy pack.

`pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json`
runs it; so does the offline preview, through the same analyzer gRPC protocol. The CLI
starts it as `python -u -m pulumi.policy <engine> <pack dir>` with the pack dir as working
directory (pulumi sdk/python/lib/pulumi/policy/__main__.py: `runpy.run_path(pack dir)`,
which puts the pack dir first on sys.path). The rules are imported as the pack-local
package `rules`, so a copy of the pack under any directory name (what `pulumi policy
publish` and installed packs use) starts the same way. Constructing the PolicyPack starts
the analyzer server and blocks, so only this file does it.
"""

from __future__ import annotations

import os
import sys

# `python __main__.py` (and run_path) put this directory on sys.path already; make it
# explicit for any other launcher.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pulumi_policy import (  # noqa: E402
    EnforcementLevel,
    PolicyPack,
)

from rules import ALL_RULES  # noqa: E402
from rules.engine import to_policy  # noqa: E402

if __name__ == "__main__":
    PolicyPack(
        name="agent-platform",
        policies=[to_policy(rule) for rule in ALL_RULES],
        enforcement_level=EnforcementLevel.MANDATORY,
    )
