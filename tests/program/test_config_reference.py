"""The README's config reference is generated from the model, never written twice."""

from program.config_reference import END, START, reference, rows
from agent_platform.config import StackConfig
from program.stack_config import PROJECT
from tests.conftest import ROOT


def test_readme_reference_is_current():
    text = (ROOT / "README.md").read_text()
    section = text.split(START, 1)[1].split(END, 1)[0]
    assert section == "\n" + reference(), "run: venv/bin/python -m program.config_reference --write"


def test_every_key_is_documented():
    undocumented = [key for key, _, _, description in rows(StackConfig, f"{PROJECT}:") if not description.strip()]
    assert undocumented == []
