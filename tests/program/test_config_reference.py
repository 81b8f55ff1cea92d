"""The stack-file reference (docs/configuration.md) is generated from the model, never written twice."""

from agent_platform.settings.stack import StackConfig

from program.config_reference import DOC, document, rows
from program.stack_config import PROJECT
from tests.conftest import ROOT


def test_reference_is_current_and_linked_from_the_readme():
    assert DOC.read_text() == document(), "run: venv/bin/python -m program.config_reference --write"
    assert "(docs/configuration.md)" in (ROOT / "README.md").read_text()


def test_every_key_is_documented():
    undocumented = [key for key, _, _, description in rows(StackConfig, f"{PROJECT}:") if not description.strip()]
    assert undocumented == []
