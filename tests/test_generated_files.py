"""tools/generate.py: one run writes or checks everything generated from the settings model."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

GENERATE = ROOT / "tools" / "generate.py"


def test_every_generated_file_is_current():
    result = subprocess.run([sys.executable, str(GENERATE), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_check_names_a_stale_file_and_a_write_mends_it(tmp_path, monkeypatch):
    sys.path.insert(0, str(GENERATE.parent))
    try:
        import generate
    finally:
        sys.path.remove(str(GENERATE.parent))
    stale = tmp_path / "args.py"
    stale.write_text("# edited by hand\n")
    monkeypatch.setattr(generate, "ROOT", tmp_path)
    monkeypatch.setattr(generate, "GENERATED", [(stale, lambda: "# generated\n")])
    assert generate.main(["--check"]) == 1
    assert stale.read_text() == "# edited by hand\n"  # a check writes nothing
    assert generate.main([]) == 0 and stale.read_text() == "# generated\n"
    assert generate.main(["--check"]) == 0
    assert generate.main(["--force"]) == 2
