"""Nothing in the repository installs this project's own distribution by a version from a public index.

On PyPI, `agent-platform` is an unrelated project's distribution; `agent-platform-components`
(ours, components/pyproject.toml) is held by nobody, and anybody could register it. A
requirement on either by name, with or without a version or range, lets pip pick whatever the
index serves under that name: a stranger's package, run with the installer's rights. The only
sources allowed are this repository pinned to a commit (`NAME @ git+https://…@<sha>`), a local
path (`-e ./components`, `..`), or a private index given as the only index (`--index-url`, never
`--extra-index-url`: pip merges every index it is given and takes the highest version).

Every requirements file, pyproject.toml, doc, script and example the repository holds (tracked
or new, not ignored) is read: requirement lines, `pip install`-style commands, and anywhere a
name of ours is followed by a version specifier.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

DIST_NAME = tomllib.loads((ROOT / "components" / "pyproject.toml").read_text())["project"]["name"]
# The distribution's name before it was renamed: on PyPI it is the stranger's, so any dependency
# on it is wrong, from any source.
FORMER_NAME = "agent-platform"
OURS = {canonicalize_name(DIST_NAME), canonicalize_name(FORMER_NAME)}
# The public package indexes (PyPI and its file host, TestPyPI): pip's default when no index is given.
PUBLIC_HOSTS = {"pypi.org", "pypi.python.org", "files.pythonhosted.org", "test.pypi.org", "test-files.pythonhosted.org"}
# A commit: a full SHA-1 or SHA-256 object name, or a placeholder a reader must fill (`<commit>`).
COMMIT = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64}|<[^<>]+>)")

# A name of ours, spelt any way PEP 503 normalises to it, with optional extras, then a version
# specifier and a version (`NAME==0.1.0`, `Name_Spelt_Otherwise >= 0.1`, `NAME[extra]~=0.1`).
_NAME_ALTERNATIVES = "|".join(r"[-_.]+".join(map(re.escape, name.split("-"))) for name in sorted(OURS, key=len)[::-1])
VERSIONED = re.compile(
    rf"(?<![\w.-])(?P<name>{_NAME_ALTERNATIVES})(?![\w.-])\s*(?:\[[^\]]*\])?\s*"
    r"(?P<spec>===\s*[\w.*+!-]+|(?:==|~=|!=|<=|>=|<|>)\s*v?\d[\w.*+!-]*)",
    re.IGNORECASE,
)
# A command that installs requirements given as its arguments.
INSTALLER = re.compile(
    r"\b(?:pip3?(?:\.\d+)?\s+(?:install|download|wheel)|uv\s+(?:pip\s+install|add)|pipx\s+install|poetry\s+add|pdm\s+add)\b"
)
INDEX_OPTION = re.compile(r"(?:--index-url[=\s]+|(?<!\S)-i\s+|\bPIP_INDEX_URL=)['\"]?(?P<url>[^\s'\"]+)")
EXTRA_INDEX = re.compile(r"--extra-index-url|\bPIP_EXTRA_INDEX_URL\b")
# requirements.txt, requirements-dev.in, requirements/program.txt, requirements/dev.lock, …
REQUIREMENTS_FILE = re.compile(r"(?:^|/)(?:[^/]*requirements[^/]*|requirements/[^/]+)\.(?:txt|in|lock)$")
TEXT_SUFFIXES = {
    ".md", ".rst", ".txt", ".in", ".lock", ".toml", ".cfg", ".ini", ".sh", ".bash",
    ".yml", ".yaml", ".py", ".json", ".html", ".j2",
}  # fmt: skip
SKIP_DIRS = {".git", "venv", "node_modules", "out", "__pycache__", ".pytest_cache", "build", "dist"}


@dataclass(frozen=True)
class Finding:
    where: str  # path:line
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.where}: {self.text.strip()[:160]}: {self.why}"


def private_index_only(context: str) -> bool:
    """The context gives an index, every index it gives is not a public one, and no extra index."""
    if EXTRA_INDEX.search(context):
        return False
    urls = [m["url"] for m in INDEX_OPTION.finditer(context)]
    return bool(urls) and all((urlsplit(u).hostname or "").lower() not in PUBLIC_HOSTS for u in urls)


def check_requirement(spec: str, private_only: bool) -> str | None:
    """Why a requirement (PEP 508 or a pip `-e`/URL line) of ours is not allowed, or None."""
    spec = spec.strip().strip("'\"")
    # pip's own URL form, editable or not: `-e git+https://…@<sha>#egg=NAME&subdirectory=…`.
    editable = re.match(r"(?:(?:-e|--editable)[=\s]+)?(?P<url>(?:git|hg|svn|bzr)\+\S+)", spec)
    if editable:
        url = editable["url"]
        egg = re.search(r"[#&]egg=(?P<name>[^&\s]+)", url)
        if not egg or canonicalize_name(egg["name"].split("[")[0]) not in OURS:
            return None
        return check_url(egg["name"], url)
    try:
        req = Requirement(spec)
    except InvalidRequirement:
        return None  # a path (`./components`, `..`) or an option: not a requirement by name
    name = canonicalize_name(req.name)
    if name not in OURS:
        return None
    if name == canonicalize_name(FORMER_NAME) and name != canonicalize_name(DIST_NAME):
        return f"{FORMER_NAME!r} is an unrelated project's distribution on PyPI; ours is {DIST_NAME!r}"
    if req.url:
        return check_url(req.name, req.url)
    if private_only:
        return None
    what = f"version {req.specifier}" if req.specifier else "any version"
    return (
        f"{req.name} by {what} from a public index (anybody can publish under the name): install it from "
        f"the repository pinned to a commit, or from a private index given as the only index"
    )


def check_url(name: str, url: str) -> str | None:
    """A direct reference: a VCS URL pinned to a commit, or an archive not on a public index."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() in PUBLIC_HOSTS:
        return f"{name} from a public index's files ({parts.hostname})"
    if parts.scheme.startswith(("git+", "hg+", "svn+", "bzr+")):
        path = parts.path
        ref = path.rsplit("@", 1)[1] if "@" in path.rsplit("/", 1)[-1] else None
        if ref is None or not COMMIT.fullmatch(ref):
            return f"{name} from {parts.scheme.split('+')[0]} at {ref or 'the default branch'}, not pinned to a commit"
    return None


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with shell/pip continuations (`\\` at the end) joined, each with its first line number."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out.append((start, pending + line))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def strip_comment(line: str) -> str:
    return re.split(r"(?:^|\s)#", line, maxsplit=1)[0]


def scan_requirements_file(path: str, text: str) -> list[Finding]:
    lines = logical_lines(text)
    private_only = private_index_only("\n".join(strip_comment(line) for _, line in lines))
    findings = []
    for number, line in lines:
        line = strip_comment(line).strip()
        if not line or (line.startswith("-") and not re.match(r"(?:-e|--editable)\b", line)):
            continue
        line = re.split(r"\s--hash[=\s]", line, maxsplit=1)[0]
        why = check_requirement(line, private_only)
        if why:
            findings.append(Finding(f"{path}:{number}", line, why))
    return findings


def scan_pyproject(path: str, text: str) -> list[Finding]:
    data = tomllib.loads(text)
    project = data.get("project", {})
    specs = list(project.get("dependencies", []))
    specs += [s for group in project.get("optional-dependencies", {}).values() for s in group]
    specs += [s for group in data.get("dependency-groups", {}).values() for s in group if isinstance(s, str)]
    specs += list(data.get("build-system", {}).get("requires", []))
    findings = []
    for spec in specs:
        why = check_requirement(spec, private_only=False)
        if why:
            number = next((i for i, line in enumerate(text.splitlines(), 1) if spec in line), 1)
            findings.append(Finding(f"{path}:{number}", spec, why))
    return findings


def blocks(path: str, text: str) -> list[tuple[int, list[tuple[int, str]]]]:
    """The units an index option applies to: a Markdown code block, else each logical line."""
    lines = logical_lines(text)
    if not path.endswith((".md", ".rst")):
        return [(number, [(number, line)]) for number, line in lines]
    out, current, fence = [], [], None
    for number, line in lines:
        marker = re.match(r"\s*(`{3,}|~{3,})", line)
        if fence is None and marker:
            fence, current = marker[1], []
            continue
        if fence is not None and line.strip().startswith(fence):
            out.append((current[0][0] if current else number, current))
            fence = None
            continue
        if fence is not None:
            current.append((number, line))
        else:
            out.append((number, [(number, line)]))
    if current and fence is not None:
        out.append((current[0][0], current))
    return out


def scan_text(path: str, text: str, file_private_only: bool = False) -> list[Finding]:
    findings = []
    for _, block in blocks(path, text):
        context = "\n".join(line for _, line in block)
        private_only = file_private_only or private_index_only(context)
        for number, line in block:
            seen: set[str] = set()
            # Any name of ours with a version specifier, wherever it stands.
            for match in VERSIONED.finditer(line):
                why = check_requirement(match[0], private_only)
                if why:
                    seen.add(match[0])
                    findings.append(Finding(f"{path}:{number}", match[0], why))
            # An installer's arguments: a name of ours with no version (the index's newest) too.
            installer = INSTALLER.search(line)
            if not installer:
                continue
            command_private = private_only or private_index_only(line)
            tokens = re.findall(r"'[^']*'|\"[^\"]*\"|\S+", line[installer.end() :])
            # `NAME @ URL` unquoted is one requirement in three tokens.
            for i in range(len(tokens) - 2, 0, -1):
                if tokens[i] == "@":
                    tokens[i - 1 : i + 2] = [" ".join(tokens[i - 1 : i + 2])]
            for token in tokens:
                token = token.strip("'\"`")
                if token in seen or token.startswith("-") or not re.match(r"[A-Za-z0-9]", token):
                    continue
                why = check_requirement(token, command_private)
                if why:
                    findings.append(Finding(f"{path}:{number}", token, why))
    return findings


def scan(path: str, text: str) -> list[Finding]:
    """Every finding in one file, one per line: its requirements as pip or the build reads them, then its text."""
    private_only = False
    if REQUIREMENTS_FILE.search(path):
        # pip applies a requirements file's index options to every line of it.
        findings = scan_requirements_file(path, text)
        private_only = private_index_only("\n".join(strip_comment(line) for _, line in logical_lines(text)))
    elif path.endswith("pyproject.toml"):
        findings = scan_pyproject(path, text)
    else:
        findings = []
    found = {f.where for f in findings}
    return findings + [f for f in scan_text(path, text, private_only) if f.where not in found]


def repository_files() -> list[str]:
    """What the repository holds: tracked files and new ones not ignored (as a commit would take them)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout.decode()
        paths = [p for p in listed.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk it
        paths = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(ROOT).parts) and ".venv" not in str(p)
        ]
    return sorted(
        p
        for p in paths
        if (ROOT / p).is_file()
        and not (ROOT / p).is_symlink()
        and (Path(p).suffix in TEXT_SUFFIXES or Path(p).name.startswith(("Dockerfile", "requirements")))
    )


def test_nothing_depends_on_our_distribution_by_a_version_from_a_public_index():
    files = repository_files()
    assert "examples/consumer/requirements.txt" in files and "README.md" in files  # the scan sees them
    findings = [
        finding for path in files for finding in scan(path, (ROOT / path).read_text(encoding="utf-8", errors="replace"))
    ]
    assert not findings, "\n".join(map(str, findings))


def test_the_consumer_example_installs_the_package_from_the_repository_pinned_to_a_commit():
    """Its line is a direct reference to a commit of the repository, with the subdirectory."""
    text = (ROOT / "examples" / "consumer" / "requirements.txt").read_text()
    lines = [strip_comment(line).strip() for line in text.splitlines()]
    [ours] = [Requirement(line) for line in lines if line and canonicalize_name(line.split()[0]) in OURS]
    assert canonicalize_name(ours.name) == canonicalize_name(DIST_NAME)
    assert ours.url and ours.url.startswith("git+") and "#subdirectory=components" in ours.url
    assert check_url(ours.name, ours.url) is None


# The check can fail: what it refuses and what it lets through. Names are put together here so
# that this file, which the scan reads too, holds none of the lines it refuses.
OLD, NEW = FORMER_NAME, DIST_NAME
REPO = "git+https://git.example.com/platform/agent-platform.git"
PRIVATE = "https://pypi.internal.example.com/simple"
SHA = "286ce64" + "0" * 33


def test_the_check_refuses_the_former_consumer_line_and_every_bare_version_or_range():
    former = "# The package (from an index, or `pip install <path to agent-platform>`), and the SDKs pinned.\n"
    former += f"{OLD}==0.1.0\npulumi==3.272.0\n"
    [finding] = scan("examples/consumer/requirements.txt", former)
    assert finding.where == "examples/consumer/requirements.txt:2" and "unrelated project" in finding.why
    for line in (f"{NEW}==0.1.0", f"{NEW}>=0.1,<1", f"{NEW.replace('-', '_').upper()} ~= 0.1", f"{NEW}[extra]", NEW):
        assert scan("requirements/program.txt", line + "\n"), line
    assert scan("pyproject.toml", f'[project]\nname = "x"\ndependencies = ["{NEW}>=0.1"]\n')
    assert scan("pyproject.toml", f'[project]\nname = "x"\ndependencies = ["{NEW}"]\n')
    # Docs and scripts: a versioned name anywhere, and an installer's bare name.
    assert scan("docs/x.md", f"Add `{NEW}==0.1.0` to your requirements.\n")
    assert scan("docs/x.md", f"```sh\npip install {NEW}\n```\n")
    assert scan("tools/x.sh", f'python -m pip install -q "{NEW}>=0.1"\n')
    assert scan("tools/x.sh", f"uv add {NEW}\n")
    # An extra index next to a private one: pip takes the highest version of any index.
    mixed = f"pip install --index-url {PRIVATE} --extra-index-url https://pypi.org/simple {NEW}==0.1.0"
    assert scan("docs/x.md", mixed + "\n")
    assert scan("requirements.txt", f"--extra-index-url {PRIVATE}\n{NEW}==0.1.0\n")
    # The public index named as the only one is still the public index.
    assert scan("requirements.txt", f"--index-url https://pypi.org/simple\n{NEW}==0.1.0\n")
    # The repository, but not pinned to a commit; or a public index's file.
    assert scan("requirements.txt", f"{NEW} @ {REPO}#subdirectory=components\n")
    assert scan("requirements.txt", f"{NEW} @ {REPO}@main#subdirectory=components\n")
    assert scan("requirements.txt", f"-e {REPO}@v0.1.0#egg={NEW}&subdirectory=components\n")
    assert scan("requirements.txt", f"{NEW} @ https://files.pythonhosted.org/packages/x/{NEW}-0.1.0.tar.gz\n")


def test_the_check_lets_through_a_commit_a_path_a_private_only_index_and_other_names():
    allowed = {
        "requirements.txt": f"{NEW} @ {REPO}@{SHA}#subdirectory=components\n-e ./components\n..\n",
        "examples/x/requirements.txt": f"{NEW} @ {REPO}@<commit>#subdirectory=components\n",
        "a/requirements.txt": f"--index-url {PRIVATE}\n{NEW}==0.1.0\n",
        "docs/a.md": f"```text\n--index-url {PRIVATE}\n{NEW}==0.1.0\n```\n",
        "docs/b.md": f"pip install -i {PRIVATE} {NEW}==0.1.0\n",
        "docs/c.md": f'pip install "{NEW} @ {REPO}@{SHA}#subdirectory=components"\n',
        # Other names that merely contain ours: images, labels, type tokens, Secrets, other dists.
        "docs/d.md": f"image: {OLD}-e2e/nginx:1.0.0, {OLD}:k8s:AgentService, {OLD}-secrets, {OLD}.io/role, "
        f"my-{OLD}==2.0, {OLD}-sdk==0.0.1\n",
        "tools/y.sh": "pip install --no-deps -e ./components\n",
        "tools/z.sh": f"pip install {NEW} @ {REPO}@{SHA}#subdirectory=components\n",
    }
    for path, text in allowed.items():
        assert not scan(path, text), (path, [str(f) for f in scan(path, text)])


def _pip_wheel(requirement: str, find_links: Path, out: Path) -> subprocess.CompletedProcess:
    """pip as a consumer runs it, but with no configuration and one local source of "index" packages."""
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--isolated", "--disable-pip-version-check", "--no-deps"]
        + ["--no-build-isolation", "--no-index", "--find-links", str(find_links), "-w", str(out), requirement],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    done = subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def test_a_commit_of_the_repository_is_what_pip_installs_even_beside_a_strangers_package(tmp_path):
    """The consumer's line, against a repository holding components/ and a find-links folder holding
    a stranger's agent-platform-components 9.9.9 (standing in for a public index): pip builds the
    pinned commit, never the stranger's; a commit whose package has another name is refused, and
    pip takes nothing else instead. The same name asked for by version takes the stranger's."""
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{DIST_NAME}"\nversion = "9.9.9"\n[tool.setuptools]\npy-modules = ["stranger"]\n'
    )
    (stranger / "stranger.py").write_text("")
    index = tmp_path / "index"
    built = _pip_wheel(str(stranger), index, index)
    assert built.returncode == 0, built.stderr

    repo = tmp_path / "repo"
    (repo / "components").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / "components" / name, repo / "components" / name)
    shutil.copytree(
        ROOT / "components" / "agent_platform",
        repo / "components" / "agent_platform",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "components")
    good = _git(repo, "rev-parse", "HEAD")
    pyproject = repo / "components" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f'name = "{DIST_NAME}"', f'name = "{FORMER_NAME}"', 1))
    _git(repo, "commit", "-q", "-am", "another name")
    renamed = _git(repo, "rev-parse", "HEAD")
    url = f"git+file://localhost{repo}"  # pip refuses file:/// with an @ref; localhost is the same file URL
    assert check_url(DIST_NAME, f"{url}@{good}") is None

    out = tmp_path / "good"
    result = _pip_wheel(f"{DIST_NAME} @ {url}@{good}#subdirectory=components", index, out)
    assert result.returncode == 0, result.stderr
    [wheel] = [p.name for p in out.iterdir()]
    import agent_platform

    assert wheel.startswith(f"agent_platform_components-{agent_platform.__version__}-"), wheel

    out = tmp_path / "renamed"
    result = _pip_wheel(f"{DIST_NAME} @ {url}@{renamed}#subdirectory=components", index, out)
    assert result.returncode != 0 and not (out.exists() and any(out.iterdir())), result.stdout
    assert "inconsistent name" in result.stderr or "unavailable" in result.stderr, result.stderr[-2000:]

    out = tmp_path / "by-version"
    result = _pip_wheel(f"{DIST_NAME}>=0.1", index, out)
    assert result.returncode == 0 and [p.name for p in out.iterdir()][0].startswith("agent_platform_components-9.9.9-")
