"""The one masking rule (preview/masking.py): whatever way a secret or a credential reaches an output,
it is not written, the place is named, and the run fails."""

from __future__ import annotations

import io
import re

import pytest
from agent_platform.settings.errors import CREDENTIAL_SHAPES, credential_spans
from pulumi.runtime.config import get_config_env_key

from preview import __main__ as entry
from preview import cli
from preview.masking import SECRET, MaskedStream, Masker
from tests.conftest import ROOT
from tests.preview.test_cli import run_cli
from tests.preview.test_credential_leaks import CANARIES


@pytest.mark.parametrize("name", sorted(CANARIES))
def test_each_credential_shape_is_masked_where_it_stands_in_a_text(name):
    masker = Masker()
    text = f'env:\n  TOKEN: "{CANARIES[name]}"\n  OTHER: keep-me\n'
    masked = masker.mask(text, "kubernetes/x.yaml")
    assert CANARIES[name] not in masked and CANARIES[name][:12] not in masked
    assert "OTHER: keep-me" in masked and "TOKEN:" in masked
    [(where, what)] = masker.found
    assert where == "kubernetes/x.yaml" and "not shown" in masked and what in masked
    errors, warnings = masker.problems()
    [line] = errors + warnings
    assert line.startswith("kubernetes/x.yaml: held ") and "rotate it" in line and CANARIES[name][:14] not in line


def test_a_known_secret_value_is_masked_and_a_short_one_is_left_alone():
    masker = Masker()
    masker.know({"correct-horse-battery", "abc", None})
    assert masker.mask("password=correct-horse-battery abc", "stdout") == f"password={SECRET} abc"
    assert masker.found == [("stdout", "a secret value")]


def test_what_a_build_writes_today_is_not_masked():
    """Hex digests, URNs, a Compose URL whose password is a variable: no credential, nothing masked."""
    masker = Masker()
    text = (
        "image: redis:7.4.1@sha256:c1e88455c85225310bbea54816e9c3f4b5295815e6dbf80c34d40afc6df28275\n"
        "DATABASE_URL=postgresql://agent:${POSTGRES_PASSWORD}@postgres:5432/agent\n"
        "REDIS_URL=redis://:${REDIS_PASSWORD}@redis:6379/0\n"
        "urn:pulumi:prod::agent-platform::agent-platform:index:AgentPlatform$kubernetes:apps/v1:Deployment::api\n"
    )
    assert masker.mask(text, "x") == text and masker.found == []
    assert (
        masker.mask("postgresql://agent:hunter2hunter2@db/agent", "x") != "postgresql://agent:hunter2hunter2@db/agent"
    )


def test_no_description_of_a_shape_is_itself_masked():
    """An error line names what was masked; the masker must not take that name for a credential."""
    assert [what for what, _pattern, _doc in CREDENTIAL_SHAPES if credential_spans(what)] == []


def test_a_masked_stream_masks_each_write():
    sink = io.StringIO()
    masker = Masker()
    stream = MaskedStream(sink, "stderr", masker)
    print(f"error: got {CANARIES['github']} back", file=stream)
    assert CANARIES["github"] not in sink.getvalue() and "a GitHub token" in sink.getvalue()
    assert masker.found == [("stderr", "a GitHub token (ghp_...)")]


def test_a_credential_that_reaches_a_rendered_file_is_masked_there_and_fails_the_run(tmp_path, monkeypatch, capsys):
    """The backstop end to end, in process: a render that (by a bug, a provider's value) holds a
    credential is written masked, the file is named, and the exit code is 1, not 0."""
    real = cli.render_files

    def leaky(capture, kube=None):
        files = real(capture, kube)
        files["resources.json"] = files["resources.json"].replace("agent-api", f"agent-api {CANARIES['aws']}", 1)
        return files

    monkeypatch.setattr(cli, "render_files", leaky)
    masker = Masker()
    monkeypatch.setattr(cli, "MASKER", masker)
    monkeypatch.setattr(entry, "MASKER", masker)
    out = tmp_path / "out"
    code = entry._masked(entry.main(["prod", "--out", str(out), "--no-policy", "--project-dir", str(ROOT)]))
    written = (out / "resources.json").read_text()
    assert CANARIES["aws"] not in written and "[an AWS access key ID (AKIA...): not shown]" in written
    err = capsys.readouterr().err
    assert code == 1
    assert re.search(r"^error: resources\.json: held an AWS access key ID \(AKIA\.\.\.\), not written", err, re.M), err


def test_a_secret_given_in_the_environment_reaches_no_output(tmp_path):
    """A real secret value (as `pulumi config set --secret` provides it to the engine), through the
    whole preview with the pack, markdown and the promotion diff: it is in no output, and nothing
    had to be masked (the capture wrote it as [secret] everywhere)."""
    secret = "sk-proj-" + "Envs3cretCanaryZq9Xw8Ve7Ut6Sr5Qp4" * 2
    env = {get_config_env_key("agent-platform:openaiApiKey"): secret}
    out = tmp_path / "out"
    result = run_cli("prod", "--out", str(out), "--format", "markdown", "--against", "dev", env=env)
    texts = [result.stdout, result.stderr] + [p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()]
    assert [t for t in texts if secret[:20] in t] == []
    assert "masked" not in result.stderr
    assert (out / "policy-report.sarif").exists()
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_pull_request_comment_is_masked_too(tmp_path, capsys):
    from preview import comment

    part = tmp_path / "prod.md"
    part.write_text(f"## prod\n\n- env: `{CANARIES['anthropic']}`\n")
    out = tmp_path / "comment.md"
    assert comment.main([str(out), f"prod={part}"]) == 1
    assert CANARIES["anthropic"][:16] not in out.read_text() and "not shown" in out.read_text()
    assert "held an Anthropic API key" in capsys.readouterr().err


def test_every_credential_shape_is_found_in_a_large_text_as_in_a_single_value():
    """The whole-file search (a quick literal scan first, preview/masking.py's cost at 100 services)
    finds every shape the settings know, at its place in a large rendered file."""
    from tests.program.test_strict_input import CANARIES as EVERY_SHAPE

    filler = '{"urn": "urn:pulumi:prod::agent-platform::kubernetes:apps/v1:Deployment::agent-api"}\n' * 2000
    for canary in EVERY_SHAPE:
        text = filler + f'  "value": "{canary}",\n' + filler
        spans = credential_spans(text)
        assert len(spans) == 1, canary[:12]
        start, end, _what = spans[0]
        assert text[start:end] in canary or canary in text[start:end], canary[:12]


def test_a_random_looking_token_is_masked_but_only_warned_a_known_shape_fails_the_run(capsys, monkeypatch):
    """A long random token is a guess from its shape: masked all the same, but said as a warning, so a
    path or a name that happens to look random never fails a pipeline; a key's known format fails it."""
    from agent_platform.settings import errors as settings_errors

    from preview import masking

    assert masking.RANDOM_TOKEN == settings_errors.RANDOM_TOKEN
    masker = Masker()
    monkeypatch.setattr(entry, "MASKER", masker)
    token = "mK3pQz8RtW2nLx7YvB4cJh9FdS6gNa1E"
    assert token not in masker.mask(f"id: {token}\n", "stdout")
    assert entry._masked(0) == 0
    assert capsys.readouterr().err.startswith("warning: stdout: held a long random token")
    masker.mask(f"key: {CANARIES['github']}\n", "stdout")
    assert entry._masked(0) == 1
    assert "error: stdout: held a GitHub token" in capsys.readouterr().err
