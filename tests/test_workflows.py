"""The GitHub workflows are safe for the path to production, and each check can fail.

actionlint (syntax, expressions) and zizmor (security, default persona, offline) report no
finding; on top of them, checks specific to this repository's deploy model, run over the parsed
workflows and the composite action:

- an environment's secret (suffix _DEV or _PROD) only in a job running in that stack's environment;
- no job of a pull_request/pull_request_target workflow holds a prod secret or a prod environment;
- every `uses:` of another repository pinned to a 40-hex commit SHA, its version in a comment;
- no `${{ github.event.* }}` or `github.head_ref` in a `run:` line (untrusted input reaches
  scripts through `env:` only);
- no `||` in an expression that reads a secret (no fallback from one environment's to another's);
- every job declares its `permissions`.

Each check is a function returning its violations; a test runs it on the real files, and another
reintroduces the defect in a copy of their text and expects the check to name it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from preview.stackfile import read_stack_config
from program.stack_config import TOP_LEVEL_KEYS, parse_stack_config, read_project_config
from tests.conftest import ROOT

ACTIONLINT = ROOT / "venv" / "bin" / "actionlint"
ZIZMOR = ROOT / "venv" / "bin" / "zizmor"
SCRIPT = ROOT / "tools" / "stack_secrets.py"
ACTION = Path(".github/actions/pulumi-stack/action.yml")
CHECK_CREDENTIALS = ROOT / ".github" / "actions" / "pulumi-stack" / "check-credentials.sh"
WORKFLOWS = ("pull-request.yml", "deploy.yml", "break-glass.yml")

# The GitHub environments of each stack; their secrets end in _DEV or _PROD.
ENVIRONMENTS = {"dev": {"development", "dev-preview"}, "prod": {"prod-preview", "production"}}
SUFFIX = {"_DEV": "dev", "_PROD": "prod"}
PR_TRIGGERS = {"pull_request", "pull_request_target"}
SECRET = re.compile(r"secrets\.([A-Za-z0-9_]+)")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$")


def _texts() -> dict[str, str]:
    """Workflow file name (or the composite action's path) -> its text."""
    texts = {name: (ROOT / ".github" / "workflows" / name).read_text() for name in WORKFLOWS}
    texts[str(ACTION)] = (ROOT / ACTION).read_text()
    return texts


def _jobs(texts: dict[str, str]):
    """(file, job id, job, triggers) of every workflow job."""
    for name, text in texts.items():
        doc = yaml.safe_load(text)
        if "jobs" not in doc:
            continue
        on = doc.get(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
        triggers = set(on) if isinstance(on, (dict, list)) else {on}
        for job_id, job in doc["jobs"].items():
            yield name, job_id, job, triggers


def _steps(texts: dict[str, str]):
    """(where, step) of every step, in the workflows' jobs and the composite action."""
    for name, job_id, job, _ in _jobs(texts):
        for step in job.get("steps", []):
            yield f"{name}:{job_id}", step
    action = yaml.safe_load(texts[str(ACTION)])
    for step in action["runs"]["steps"]:
        yield str(ACTION), step


def _secrets(value) -> set[str]:
    return set(SECRET.findall(json.dumps(value)))


def environment_secrets_outside_their_environment(texts: dict[str, str]) -> list[str]:
    found = []
    for name, job_id, job, _ in _jobs(texts):
        environment = job.get("environment")
        environment = environment.get("name") if isinstance(environment, dict) else environment
        if environment is not None and "${{" in str(environment):
            found.append(f"{name}:{job_id}: environment {environment!r} is an expression, not one environment")
            continue
        for secret in sorted(_secrets(job) - {"GITHUB_TOKEN"}):
            stack = next((s for suffix, s in SUFFIX.items() if secret.endswith(suffix)), None)
            if stack is None:
                found.append(f"{name}:{job_id}: secret {secret} belongs to no environment (_DEV or _PROD)")
            elif environment not in ENVIRONMENTS[stack]:
                found.append(f"{name}:{job_id}: secret {secret} of {stack} in environment {environment}")
    return found


def pull_request_jobs_holding_prod(texts: dict[str, str]) -> list[str]:
    found = []
    for name, job_id, job, triggers in _jobs(texts):
        if not triggers & PR_TRIGGERS:
            continue
        environment = job.get("environment")
        environment = environment.get("name") if isinstance(environment, dict) else environment
        prod = sorted(s for s in _secrets(job) if s.endswith("_PROD"))
        if prod:
            found.append(f"{name}:{job_id}: a pull-request job holds {', '.join(prod)}")
        if environment in ENVIRONMENTS["prod"] or (environment and "prod" in str(environment)):
            found.append(f"{name}:{job_id}: a pull-request job runs in environment {environment}")
        if job.get("secrets") == "inherit" or "uses" in job:
            found.append(f"{name}:{job_id}: a pull-request job calls a workflow (its secrets are not checked here)")
    return found


def unpinned_actions(texts: dict[str, str]) -> list[str]:
    found = []
    for name, text in texts.items():
        for number, line in enumerate(text.splitlines(), 1):
            match = USES_LINE.match(line)
            if not match or match.group(1).startswith(("./", "$/")):
                continue
            ref, rest = match.group(1), match.group(2)
            if not PINNED.match(ref):
                found.append(f"{name}:{number}: {ref} is not pinned to a commit SHA")
            elif not re.match(r"\s*#\s*v\d", rest):
                found.append(f"{name}:{number}: {ref} has no `# vX.Y.Z` comment naming its version")
    return found


def untrusted_input_in_run(texts: dict[str, str]) -> list[str]:
    found = []
    for where, step in _steps(texts):
        for expression in EXPRESSION.findall(str(step.get("run", ""))):
            if "github.event" in expression or "head_ref" in expression:
                found.append(
                    f"{where}: step {step.get('name', step['run'][:40])!r} runs ${{{{ {expression.strip()} }}}}"
                )
    return found


def fallbacks_between_secrets(texts: dict[str, str]) -> list[str]:
    found = []
    for name, text in texts.items():
        for expression in EXPRESSION.findall(text):
            if "secrets." in expression and "||" in expression:
                found.append(f"{name}: ${{{{ {expression.strip()} }}}} falls back from one secret to another")
    return found


def jobs_without_permissions(texts: dict[str, str]) -> list[str]:
    return [f"{name}:{job_id}: no permissions" for name, job_id, job, _ in _jobs(texts) if "permissions" not in job]


CHECKS = {
    "environment_secrets_outside_their_environment": environment_secrets_outside_their_environment,
    "pull_request_jobs_holding_prod": pull_request_jobs_holding_prod,
    "unpinned_actions": unpinned_actions,
    "untrusted_input_in_run": untrusted_input_in_run,
    "fallbacks_between_secrets": fallbacks_between_secrets,
    "jobs_without_permissions": jobs_without_permissions,
}


def test_the_workflows_pass_every_check():
    texts = _texts()
    assert len(list(_jobs(texts))) >= 6 and len(list(_steps(texts))) >= 20, "the checks see every job and step"
    found = [f"{name}: {line}" for name, check in CHECKS.items() for line in check(texts)]
    assert found == [], "\n".join(found)


# (check, file, text to replace, its replacement, what the check must then say)
DEFECTS = {
    "a prod secret in a job without an environment": (
        "environment_secrets_outside_their_environment",
        "deploy.yml",
        "    name: Tests, workflow checks and offline preview\n",
        "    name: Tests, workflow checks and offline preview\n    env:\n      K: ${{ secrets.KUBECONFIG_PROD }}\n",
        "deploy.yml:test: secret KUBECONFIG_PROD of prod in environment None",
    ),
    "one kubeconfig shared by dev and prod": (
        "environment_secrets_outside_their_environment",
        "pull-request.yml",
        "secrets.KUBECONFIG_DEV }}",
        "secrets.KUBECONFIG_DATA }}",
        "pull-request.yml:pulumi-preview-dev: secret KUBECONFIG_DATA belongs to no environment",
    ),
    "the environment chosen by an expression": (
        "environment_secrets_outside_their_environment",
        "deploy.yml",
        "    environment: production\n",
        "    environment: ${{ github.event_name == 'push' && 'development' || 'production' }}\n",
        "deploy.yml:up-prod: environment \"${{ github.event_name == 'push' && 'development' || 'production' }}\"",
    ),
    "a pull-request job previewing prod": (
        "pull_request_jobs_holding_prod",
        "pull-request.yml",
        "_DEV }}",
        "_PROD }}",
        "pull-request.yml:pulumi-preview-dev: a pull-request job holds KUBECONFIG_PROD, PULUMI_CONFIG_PASSPHRASE_PROD",
    ),
    "an action pinned by tag": (
        "unpinned_actions",
        "pull-request.yml",
        "actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 # v5.1.0",
        "actions/checkout@v5",
        "pull-request.yml:23: actions/checkout@v5 is not pinned to a commit SHA",
    ),
    "a pinned action without its version": (
        "unpinned_actions",
        str(ACTION),
        "aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c # v6.2.3",
        "aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c",
        "configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c has no `# vX.Y.Z` comment",
    ),
    "the pull request's title in a script": (
        "untrusted_input_in_run",
        "pull-request.yml",
        "        run: bash tools/setup.sh --test\n",
        '        run: bash tools/setup.sh --test && echo "${{ github.event.pull_request.title }}"\n',
        "pull-request.yml:offline-preview: step 'Set up' runs ${{ github.event.pull_request.title }}",
    ),
    "the head branch in a script": (
        "untrusted_input_in_run",
        "pull-request.yml",
        "        run: exit 1\n",
        '        run: echo "${{ github.head_ref }}"; exit 1\n',
        "step 'Fail on invalid manifests or mandatory policy violations' runs ${{ github.head_ref }}",
    ),
    "prod falling back to dev's secrets": (
        "fallbacks_between_secrets",
        "deploy.yml",
        "stack-secrets: ${{ secrets.STACK_SECRETS_PROD }}",
        "stack-secrets: ${{ secrets.STACK_SECRETS_PROD || secrets.STACK_SECRETS_DEV }}",
        "deploy.yml: ${{ secrets.STACK_SECRETS_PROD || secrets.STACK_SECRETS_DEV }} falls back",
    ),
    "a job without permissions": (
        "jobs_without_permissions",
        "deploy.yml",
        "    environment: production\n    permissions:\n",
        "    environment: production\n    permissions-dropped:\n",
        "deploy.yml:up-prod: no permissions",
    ),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_check_names_its_defect_when_reintroduced(defect):
    check, name, old, new, message = DEFECTS[defect]
    texts = _texts()
    assert texts[name].count(old) >= 1, f"{name} no longer holds {old!r}: update the defect"
    texts[name] = texts[name].replace(old, new)
    found = CHECKS[check](texts)
    assert any(message in line for line in found), found


def test_workflows_pass_actionlint():
    result = subprocess.run([str(ACTIONLINT), "-no-color"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list((ROOT / ".github" / "workflows").glob("*.yml"))) >= 2


def test_actionlint_flags_untrusted_input_inline(tmp_path: Path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    result = subprocess.run([str(ACTIONLINT), "-no-color", str(bad)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1 and "potentially untrusted" in result.stdout


def _zizmor(path: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ZIZMOR), "--offline", "--no-progress", "--format", "plain", str(path)],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def test_github_directory_has_no_zizmor_finding():
    result = _zizmor(ROOT / ".github", ROOT)
    assert result.returncode == 0 and "No findings to report" in result.stdout, result.stdout + result.stderr


def test_zizmor_flags_an_action_pinned_by_tag_and_inherited_permissions(tmp_path: Path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v5\n"
    )
    result = _zizmor(tmp_path / ".github", tmp_path)
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout and "excessive-permissions" in result.stdout, result.stdout


def test_ci_run_and_the_test_jobs_check_the_workflows_before_the_tests():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    order = [
        lines.index("venv/bin/actionlint -no-color"),
        lines.index("venv/bin/zizmor --offline .github/"),
        lines.index("venv/bin/python -m pytest -q"),
    ]
    assert order == sorted(order) and lines[-1] == "bash tools/e2e-docker.sh"
    for name, job_id in (("pull-request.yml", "offline-preview"), ("deploy.yml", "test")):
        runs = [str(s.get("run", "")) for s in _workflow(name)["jobs"][job_id]["steps"]]
        lint = next(i for i, r in enumerate(runs) if "zizmor --offline .github/" in r and "actionlint" in r)
        tests = next(i for i, r in enumerate(runs) if "pytest" in r)
        assert lint < tests, f"{name}:{job_id}"


# --- the real preview and up: which job, which stack, which environment --------------------------


def _workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def _pulumi_jobs():
    for name in WORKFLOWS:
        for job_id, job in _workflow(name)["jobs"].items():
            steps = job.get("steps", [])
            for i, step in enumerate(steps):
                command = re.search(r"pulumi (preview|up)\b", str(step.get("run", "")))
                if command:
                    yield name, job_id, job, command.group(1), steps[:i], step


def test_each_real_pulumi_command_runs_in_its_stacks_environment_with_the_policy_pack():
    found = {}
    for name, job_id, job, command, before, step in _pulumi_jobs():
        stack = job["env"]["STACK"]
        setup = [s for s in before if s.get("uses") == "$/.github/actions/pulumi-stack"]
        assert len(setup) == 1, f"{name}:{job_id} runs pulumi without the stack's setup"
        given = setup[0]["with"]
        assert given["stack"] == stack and given["environment"] == job["environment"]
        suffix = stack.upper()
        assert given["kubeconfig"] == f"${{{{ secrets.KUBECONFIG_{suffix} }}}}"
        assert given["stack-secrets"] == f"${{{{ secrets.STACK_SECRETS_{suffix} }}}}"
        assert given["passphrase"] == f"${{{{ secrets.PULUMI_CONFIG_PASSPHRASE_{suffix} }}}}"
        assert step["env"]["PULUMI_CONFIG_PASSPHRASE"] == given["passphrase"]
        assert '--stack "$STACK"' in step["run"]
        assert '--policy-pack policies --policy-pack-config "policies/config/$STACK.json"' in step["run"]
        found[(name, job_id)] = (command, stack, job["environment"])
    assert found == {
        ("pull-request.yml", "pulumi-preview-dev"): ("preview", "dev", "dev-preview"),
        ("deploy.yml", "up-dev"): ("up", "dev", "development"),
        ("deploy.yml", "preview-prod"): ("preview", "prod", "prod-preview"),
        ("deploy.yml", "up-prod"): ("up", "prod", "production"),
        ("break-glass.yml", "preview-prod"): ("preview", "prod", "prod-preview"),
        ("break-glass.yml", "up-prod"): ("up", "prod", "production"),
    }
    jobs = _workflow("deploy.yml")["jobs"]
    assert [jobs["up-dev"]["needs"], jobs["preview-prod"]["needs"], jobs["up-prod"]["needs"]] == [
        "test",
        "up-dev",
        "preview-prod",
    ]
    assert set(_workflow("deploy.yml")[True]) == {"push", "workflow_dispatch"}


def test_the_real_preview_of_a_pull_request_is_opt_in_and_never_for_a_fork():
    job = _workflow("pull-request.yml")["jobs"]["pulumi-preview-dev"]
    assert job["if"] == (
        "vars.DEPLOY_ENABLED == 'true' && github.event.pull_request.head.repo.full_name == github.repository"
    )


def test_the_stack_setup_passes_every_value_through_env_and_sets_the_secrets_on_stdin():
    action = yaml.safe_load((ROOT / ACTION).read_text())
    runs = [s for s in action["runs"]["steps"] if "run" in s]
    assert all("${{" not in s["run"] for s in runs), "inputs reach scripts via env only"
    assert runs[0]["run"] == 'bash "$GITHUB_ACTION_PATH/check-credentials.sh"', "credentials are checked first"
    last = runs[-1]
    assert last["env"]["STACK_SECRETS"] == "${{ inputs.stack-secrets }}"
    commands = [line for line in last["run"].splitlines() if line.startswith(("pulumi", "venv/"))]
    assert commands == [
        'pulumi login "$PULUMI_BACKEND_URL"',
        'pulumi stack select --create --secrets-provider "${provider:-default}" "$STACK"',
        'venv/bin/python tools/stack_secrets.py "$STACK"',
    ]
    cli = next(s for s in action["runs"]["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert re.fullmatch(r"\d+\.\d+\.\d+", cli["with"]["pulumi-version"]), "the Pulumi CLI version is pinned"


def test_pr_comment_is_skipped_on_fork_pull_requests():
    steps = _workflow("pull-request.yml")["jobs"]["offline-preview"]["steps"]
    comment = next(s for s in steps if s.get("name") == "Post or update the PR comment")
    assert "github.event.pull_request.head.repo.full_name == github.repository" in comment["if"]
    summary = next(s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert "github.event.pull_request.head.repo.full_name != github.repository" in summary["if"]


# --- a missing credential fails the job with one line ---------------------------------------------

SALTED = "encryptionsalt: v1:c2FsdA==:v1:aXY=:Y2lwaGVy\nconfig: {}\n"
CREDENTIALS = {
    "STACK": "dev",
    "ENVIRONMENT": "development",
    "PULUMI_BACKEND_URL": "s3://state-bucket",
    "PASSPHRASE": "not-a-real-passphrase",
    "KUBECONFIG_B64": "YQ==",
    "STACK_SECRETS": "{}",
}


def _check_credentials(tmp_path: Path, stack_file: str, **changes: str) -> subprocess.CompletedProcess:
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_file)
    env = {"PATH": os.environ["PATH"], **CREDENTIALS, **changes}
    return subprocess.run(["bash", str(CHECK_CREDENTIALS)], cwd=tmp_path, env=env, capture_output=True, text=True)


def test_check_credentials_accepts_a_complete_environment(tmp_path: Path):
    result = _check_credentials(tmp_path, SALTED)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    kms = "secretsprovider: awskms://alias/agent-platform-dev?region=eu-west-1\nencryptedkey: AQID\nconfig: {}\n"
    assert _check_credentials(tmp_path, kms, PASSPHRASE="").returncode == 0, "a KMS key needs no passphrase"
    cloud = {"PULUMI_BACKEND_URL": "https://api.pulumi.com", "PASSPHRASE": ""}
    assert _check_credentials(tmp_path, "config: {}\n", **cloud).returncode == 0, "Pulumi Cloud keeps its own"


@pytest.mark.parametrize(
    "missing, stack_file, message",
    [
        (
            "PULUMI_BACKEND_URL",
            SALTED,
            "variable PULUMI_BACKEND_URL is not set in the GitHub environment 'development'",
        ),
        ("KUBECONFIG_B64", SALTED, "secret KUBECONFIG_DEV is not set in the GitHub environment 'development'"),
        ("STACK_SECRETS", SALTED, "secret STACK_SECRETS_DEV is not set in the GitHub environment 'development'"),
        ("PASSPHRASE", SALTED, "secret PULUMI_CONFIG_PASSPHRASE_DEV is not set in the GitHub environment"),
        (None, "config: {}\n", "Pulumi.dev.yaml has neither encryptionsalt nor a KMS secretsprovider"),
    ],
)
def test_check_credentials_names_what_is_missing_in_one_line(tmp_path: Path, missing, stack_file, message):
    result = _check_credentials(tmp_path, stack_file, **({missing: ""} if missing else {}))
    assert result.returncode == 1 and result.stderr == ""
    assert len(result.stdout.splitlines()) == 1 and result.stdout.startswith("::error::"), result.stdout
    assert message in result.stdout
    assert "not-a-real-passphrase" not in result.stdout


# --- tools/stack_secrets.py: exactly the keys the program requires, one line on bad input ---------


def _needed(stack: str) -> list[str]:
    values = read_project_config(read_stack_config(ROOT, stack).config)
    return parse_stack_config({k: v for k, v in values.items() if k in TOP_LEVEL_KEYS}).secret_keys()


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_stack_secrets_check_accepts_exactly_the_keys_the_program_requires(stack):
    needed = _needed(stack)
    assert needed, "every shipped stack reads API keys"
    value = "value-that-must-not-be-printed"
    env = {**os.environ, "STACK_SECRETS": json.dumps({k: value for k in needed})}
    ok = subprocess.run([sys.executable, str(SCRIPT), stack, "--check"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == [f"ok: {stack}: {k} (secret)" for k in needed]
    assert value not in ok.stdout + ok.stderr
    env["STACK_SECRETS"] = json.dumps({k: value for k in needed[1:]})
    bad = subprocess.run([sys.executable, str(SCRIPT), stack, "--check"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and bad.stdout == ""
    assert (
        bad.stderr.strip()
        == f"error: STACK_SECRETS: {needed[0]}: missing or empty (stack {stack} needs {', '.join(needed)})"
    )
    assert value not in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    "raw, message",
    [
        (None, "not set; stack dev needs"),
        ("not json", "not a JSON object"),
        ("[1, 2]", "must be a JSON object of config key -> value, got a list"),
    ],
)
def test_stack_secrets_rejects_malformed_input_in_one_line(raw, message):
    env = {k: v for k, v in os.environ.items() if k != "STACK_SECRETS"}
    if raw is not None:
        env["STACK_SECRETS"] = raw
    result = subprocess.run([sys.executable, str(SCRIPT), "dev", "--check"], capture_output=True, text=True, env=env)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_stack_secrets_without_the_pulumi_cli_fails_in_one_line(tmp_path: Path):
    needed = _needed("dev")
    value = "value-that-must-not-be-printed"
    env = {"PATH": str(tmp_path), "STACK_SECRETS": json.dumps({k: value for k in needed})}  # no pulumi on it
    result = subprocess.run([sys.executable, str(SCRIPT), "dev"], capture_output=True, text=True, env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == f"error: {needed[0]}: the pulumi CLI is not on PATH (stack dev)"
    assert value not in result.stderr


# --- docs/deploying.md describes exactly what the workflows use -----------------------------------


def test_the_deploy_guide_names_every_environment_secret_and_variable_the_workflows_use():
    guide = (ROOT / "docs" / "deploying.md").read_text()
    texts = _texts()
    used = set()
    for text in texts.values():
        used |= set(SECRET.findall(text)) | set(re.findall(r"vars\.([A-Za-z0-9_]+)", text))
    assert {"KUBECONFIG_PROD", "STACK_SECRETS_DEV", "DEPLOY_ENABLED", "PULUMI_BACKEND_URL"} <= used
    for name in sorted(used):
        assert f"`{name}`" in guide or f"{name}`" in guide or f" {name} " in guide, name
    environments = {job.get("environment") for _, _, job, _ in _jobs(texts)} - {None}
    assert environments == ENVIRONMENTS["dev"] | ENVIRONMENTS["prod"]
    for environment in environments:
        assert f"| `{environment}` |" in guide, environment


def test_the_deploy_guide_runs_the_commands_ci_runs():
    guide = (ROOT / "docs" / "deploying.md").read_text()
    action = (ROOT / ACTION).read_text()
    assert 'pulumi login "$PULUMI_BACKEND_URL"' in action and 'pulumi login "$PULUMI_BACKEND_URL"' in guide
    assert "pulumi stack select --create --secrets-provider default dev" in guide
    assert "pulumi up --stack dev --yes --diff --color never" in guide
    assert "--policy-pack policies --policy-pack-config policies/config/dev.json" in guide
    version = re.search(r"pulumi-version: (\S+)", action).group(1)
    assert f"`pulumi-version: {version}`" in guide and f"prints {version}" in guide
    assert "pulumi stack output --stack local --show-secrets postgresPassword" in guide
    assert "pulumi login --local" not in guide and "config get --show-secrets" not in guide


# --- break glass: prod applied during an incident, from reviewed code, approved like any deploy --------
GATE = ROOT / "tools" / "break_glass_check.sh"


def test_break_glass_runs_only_mains_workflow_and_previews_before_the_approved_up():
    doc = _workflow("break-glass.yml")
    assert set(doc[True]) == {"workflow_dispatch"}
    jobs = doc["jobs"]
    assert all(job["if"] == "github.ref == 'refs/heads/main'" for job in jobs.values())
    assert jobs["preview-prod"]["needs"] == "check" and jobs["up-prod"]["needs"] == ["check", "preview-prod"]
    assert jobs["up-prod"]["environment"] == "production" and "environment" not in jobs["check"]
    # The check holds no secret; the commit reaches the credentialed jobs only as the gate's output.
    assert not _secrets(jobs["check"])
    for job in ("preview-prod", "up-prod"):
        assert jobs[job]["steps"][0]["with"]["ref"] == "${{ needs.check.outputs.commit }}"
    gate = next(s for s in jobs["check"]["steps"] if s.get("id") == "gate")
    assert gate["run"].startswith("bash tools/break_glass_check.sh")
    assert gate["env"] == {"COMMIT": "${{ inputs.commit }}", "REASON": "${{ inputs.reason }}"}
    # The same concurrency group as deploy.yml: never two applies of prod at once.
    assert doc["concurrency"]["group"] == _workflow("deploy.yml")["concurrency"]["group"]


def _gate(repo: Path, commit: str, reason: str = "restore after the 03:10 incident") -> subprocess.CompletedProcess:
    env = {**os.environ, "COMMIT": commit, "REASON": reason, "MAIN_REF": "main"}
    return subprocess.run(["bash", str(GATE)], cwd=repo, env=env, capture_output=True, text=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True, text=True)  # noqa: E731
    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "reviewed")
    git("checkout", "-q", "-b", "unreviewed")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "not merged")
    git("checkout", "-q", "main")
    return tmp_path


def _sha(repo: Path, ref: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", ref], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_break_glass_gate_passes_a_commit_on_main(repo: Path):
    result = _gate(repo, _sha(repo, "main"))
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("which", "reason", "message"),
    [
        ("unreviewed", "incident", "is not on main: only reviewed, merged code is applied to prod"),
        ("short", "incident", "a full 40-hex commit SHA of main is required (got 7 characters)"),
        ("unknown", "incident", "is not a commit of this repository"),
        ("main", "", "reason: say why (the incident), one line"),
        ("main", "line one\nline two", "reason: one line of at most 300 characters"),
    ],
)
def test_break_glass_gate_refuses_in_one_line_each(repo: Path, which: str, reason: str, message: str):
    commit = {
        "unreviewed": _sha(repo, "unreviewed"),
        "short": _sha(repo, "main")[:7],
        "unknown": "0" * 40,
        "main": _sha(repo, "main"),
    }[which]
    result = _gate(repo, commit, reason)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error::")]
    assert len(errors) == 1 and message in errors[0]
