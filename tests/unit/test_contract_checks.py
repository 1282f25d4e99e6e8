"""Each contract check fails when it should and passes when it should.

Every test works on a temporary copy of the contract (proto/, buf.yaml,
third_party/, gen/, scripts/), never on the repository itself:

- `buf lint` (STANDARD) and `buf breaking` (FILE), run from the venv;
- scripts/check_routes.py, the guard on `google.api.http` routes that buf
  breaking does not see (unit-tested through route_problems, then end to end
  on descriptors built by `buf build`, against a file and against a git ref);
- scripts/generate.py --check, the drift check of gen/ against proto/ (run
  from the copy, whose scripts/ makes the copy its repository root).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BUF = Path(sys.executable).parent / "buf"
COPIED = ("proto", "buf.yaml", "third_party", "gen", "scripts")
SYSTEM_PROTO = "proto/temporal_registry/v1/system.proto"
REGISTRY_PROTO = "proto/temporal_registry/v1/registry.proto"
GIT_CONFIG = (
    "-c",
    "user.name=test",
    "-c",
    "user.email=test@example.com",
    "-c",
    "commit.gpgsign=false",
)
HEALTH = "temporal_registry.v1.SystemService.GetHealth"
READY = "temporal_registry.v1.SystemService.GetReadiness"


def _load_check_routes() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_routes", REPO / "scripts/check_routes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_routes = _load_check_routes()
Route = check_routes.Route


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; the result carries rc and the merged stdout + stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )


def edit(root: Path, relpath: str, old: str, new: str) -> None:
    """Replace exactly one occurrence of `old`; fails loudly if the proto moved on."""
    path = root / relpath
    text = path.read_text()
    assert text.count(old) == 1, f"{relpath}: expected exactly one {old!r}"
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One snapshot of the contract; every test copies it, so all compare alike."""
    root = tmp_path_factory.mktemp("pristine")
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source, root / name)
    return root


@pytest.fixture
def work(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the snapshot that the test may edit."""
    return Path(shutil.copytree(pristine, tmp_path / "work"))


@pytest.fixture(scope="module")
def before(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Descriptor of the unedited contract, as `buf build` writes it."""
    out = tmp_path_factory.mktemp("before") / "descriptor.binpb"
    result = run(BUF, "build", pristine, "--exclude-source-info", "-o", out)
    assert result.returncode == 0, result.stdout
    return out


def build(root: Path) -> Path:
    out = root / "after.binpb"
    result = run(BUF, "build", root, "--exclude-source-info", "-o", out)
    assert result.returncode == 0, result.stdout
    return out


# buf lint (STANDARD) -----------------------------------------------------------------------


def test_buf_lint_passes_on_the_real_tree(work: Path) -> None:
    result = run(BUF, "lint", cwd=work)
    assert result.returncode == 0, result.stdout
    assert result.stdout == ""


def test_buf_lint_rejects_a_field_name_not_in_lower_snake_case(work: Path) -> None:
    edit(
        work,
        SYSTEM_PROTO,
        '  // Always "ok".\n  string status = 1;',
        '  // Always "ok".\n  string Status = 1;',
    )
    result = run(BUF, "lint", cwd=work)
    assert result.returncode != 0
    assert "system.proto" in result.stdout
    assert 'Field name "Status" should be lower_snake_case' in result.stdout


# buf breaking (FILE) -----------------------------------------------------------------------


def test_buf_breaking_passes_on_an_unchanged_copy(work: Path, pristine: Path) -> None:
    result = run(BUF, "breaking", work, "--against", pristine)
    assert result.returncode == 0, result.stdout
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "  int32 history_length = 9;\n",
            "",
            'Previously present field "9" with name "history_length"',
            id="field-removed",
        ),
        pytest.param(
            "string task_queue = 13;",
            "string task_queue = 99;",
            'Previously present field "13" with name "task_queue"',
            id="field-renumbered",
        ),
    ],
)
def test_buf_breaking_rejects_a_field_change(
    work: Path, pristine: Path, old: str, new: str, expected: str
) -> None:
    edit(work, REGISTRY_PROTO, old, new)
    result = run(BUF, "breaking", work, "--against", pristine)
    assert result.returncode != 0
    assert "registry.proto" in result.stdout
    assert f'{expected} on message "GetRegistryStatusResponse" was deleted' in result.stdout


# route check: the comparison ---------------------------------------------------------------


def test_route_problems_accepts_identical_and_added_routes() -> None:
    before = {HEALTH: [Route("GET", "/health")]}
    after = {
        HEALTH: [Route("GET", "/health"), Route("GET", "/v1/health")],
        READY: [Route("GET", "/ready")],
    }
    assert check_routes.route_problems(before, before) == []
    assert check_routes.route_problems(before, after) == []


def test_route_problems_reports_a_changed_path_with_what_replaced_it() -> None:
    before = {HEALTH: [Route("GET", "/health")]}
    assert check_routes.route_problems(before, {HEALTH: [Route("GET", "/healthz")]}) == [
        f"{HEALTH}: route GET /health removed (now GET /healthz)"
    ]
    assert check_routes.route_problems(before, {HEALTH: []}) == [
        f"{HEALTH}: route GET /health removed (now no route)"
    ]


def test_route_problems_reports_a_route_moved_to_another_method() -> None:
    before = {HEALTH: [Route("GET", "/health")], READY: [Route("GET", "/ready")]}
    after = {HEALTH: [Route("GET", "/ready")], READY: [Route("GET", "/health")]}
    assert check_routes.route_problems(before, after) == [
        f"{HEALTH}: route GET /health removed (now served by {READY})",
        f"{READY}: route GET /ready removed (now served by {HEALTH})",
    ]


def test_route_problems_reports_a_removed_method_that_had_routes() -> None:
    before = {HEALTH: [Route("GET", "/health")], READY: [Route("GET", "/ready")], "a.B.C": []}
    assert check_routes.route_problems(before, {HEALTH: [Route("GET", "/health")]}) == [
        f"{READY}: method removed (had GET /ready)"
    ]


def test_route_problems_reports_changed_body_and_response_body() -> None:
    before = {HEALTH: [Route("POST", "/health", "*", "")]}
    after = {HEALTH: [Route("POST", "/health", "request", "status")]}
    assert check_routes.route_problems(before, after) == [
        f"{HEALTH}: route POST /health body changed from '*' to 'request'",
        f"{HEALTH}: route POST /health response_body changed from '' to 'status'",
    ]


def test_routes_from_set_reads_bindings_custom_verbs_and_only_our_packages() -> None:
    rule = http_pb2.HttpRule(post="/v1/things", body="*")
    rule.additional_bindings.add(get="/v1/things/{id}", response_body="thing")
    custom = http_pb2.HttpRule(custom=http_pb2.CustomHttpPattern(kind="HEAD", path="/v1/ping"))
    fds = descriptor_pb2.FileDescriptorSet()
    for package in ("temporal_registry.v9", "other.v1"):
        service = fds.file.add(name=f"{package}.proto", package=package).service.add(name="S")
        for name, http in (("Make", rule), ("Ping", custom), ("Plain", None)):
            method = service.method.add(name=name, input_type=".E", output_type=".E")
            if http is not None:
                method.options.Extensions[annotations_pb2.http].CopyFrom(http)
    # What a descriptor file holds: the options as bytes, extension included.
    routes = check_routes.routes_from_bytes(fds.SerializeToString())
    assert routes == {
        "temporal_registry.v9.S.Make": [
            Route("POST", "/v1/things", "*", ""),
            Route("GET", "/v1/things/{id}", "", "thing"),
        ],
        "temporal_registry.v9.S.Ping": [Route("HEAD", "/v1/ping")],
        "temporal_registry.v9.S.Plain": [],
    }


# route check: end to end on buf-built descriptors ------------------------------------------


def check_routes_cli(root: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the copy's check_routes.py, so a git ref is looked up in the copy."""
    return run(PYTHON, root / "scripts/check_routes.py", *args, cwd=root)


SUMMARY = re.compile(r"^routes: (\d+) methods, (\d+) routes, nothing removed or changed against ")


def test_route_check_passes_on_an_unchanged_contract(work: Path, before: Path) -> None:
    result = check_routes_cli(work, "--against-file", before, "--current", build(work))
    assert result.returncode == 0, result.stdout
    match = SUMMARY.match(result.stdout)
    assert match, result.stdout
    assert result.stdout.rstrip().endswith(str(before))
    assert int(match[1]) >= 3 and int(match[2]) >= 3


def test_route_check_rejects_a_changed_path(work: Path, before: Path) -> None:
    edit(work, SYSTEM_PROTO, '{get: "/health"}', '{get: "/healthz"}')
    result = check_routes_cli(work, "--against-file", before, "--current", build(work))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{HEALTH}: route GET /health removed (now GET /healthz)"
    assert lines[1:] == [f"routes: 1 problem(s) against {before}"]


def test_route_check_accepts_added_routes_and_methods(work: Path, before: Path) -> None:
    edit(
        work,
        SYSTEM_PROTO,
        '{get: "/health"}',
        '{\n      get: "/health"\n      additional_bindings {get: "/v1/health"}\n    }',
    )
    edit(
        work,
        SYSTEM_PROTO,
        "  rpc GetReadiness(",
        "  rpc GetLiveness(GetHealthRequest) returns (GetHealthResponse) {\n"
        '    option (google.api.http) = {get: "/live"};\n'
        "  }\n\n"
        "  rpc GetReadiness(",
    )
    baseline = check_routes_cli(work, "--against-file", before, "--current", before)
    result = check_routes_cli(work, "--against-file", before, "--current", build(work))
    assert result.returncode == 0, result.stdout
    old, new = SUMMARY.match(baseline.stdout), SUMMARY.match(result.stdout)
    assert old and new, (baseline.stdout, result.stdout)
    assert (int(new[1]), int(new[2])) == (int(old[1]) + 1, int(old[2]) + 2)


def test_route_check_against_a_git_ref(work: Path, before: Path) -> None:
    """`make routes` path: the old side is `git show REF:gen/descriptor.binpb`
    (in a throwaway repository made inside the copy)."""

    def git(*args: str) -> None:
        result = run("git", "-C", work, *GIT_CONFIG, *args)
        assert result.returncode == 0, result.stdout

    git("init", "--quiet")
    git("commit", "--quiet", "--no-verify", "--allow-empty", "-m", "before the contract")
    git("tag", "no-contract")
    shutil.copyfile(before, work / "gen/descriptor.binpb")
    git("add", "gen/descriptor.binpb")
    git("commit", "--quiet", "--no-verify", "-m", "contract")

    edit(work, SYSTEM_PROTO, '{get: "/ready"}', '{get: "/readyz"}')
    shutil.copyfile(build(work), work / "gen/descriptor.binpb")

    result = check_routes_cli(work, "--against", "HEAD")
    assert result.returncode == 1
    assert f"{READY}: route GET /ready removed (now GET /readyz)\n" in result.stdout
    assert "routes: 1 problem(s) against HEAD" in result.stdout

    for ref in ("no-contract", "no-such-branch"):
        result = check_routes_cli(work, "--against", ref)
        assert result.returncode == 0, result.stdout
        assert result.stdout == f"routes: {ref} has no descriptor yet, skipped\n"


def test_route_check_refuses_a_file_that_is_not_a_descriptor(work: Path) -> None:
    result = check_routes_cli(work, "--against-file", work / "buf.yaml")
    assert result.returncode == 2
    assert "not a descriptor set" in result.stdout


# generate.py --check -----------------------------------------------------------------------


def test_generate_check_passes_on_an_unmodified_copy(work: Path) -> None:
    result = run(PYTHON, work / "scripts/generate.py", "--check", cwd=work)
    assert result.returncode == 0, result.stdout
    assert result.stdout == "generated code matches proto/\n"


def test_generate_check_detects_drift_after_a_proto_edit(work: Path, pristine: Path) -> None:
    edit(
        work,
        SYSTEM_PROTO,
        "  string status = 1;\n}\n\n// Request of SystemService.GetReadiness.",
        "  string status = 1;\n  // The process version.\n  string version = 2;\n}\n\n"
        "// Request of SystemService.GetReadiness.",
    )
    result = run(PYTHON, work / "scripts/generate.py", "--check", cwd=work)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "generated code drifted from proto/ (run `make gen` and commit):"
    assert "  gen/descriptor.binpb: differs" in lines
    assert "  gen/python/temporal_registry/v1/system_pb2.py: differs" in lines
    assert not any("third_party" in line for line in lines)
    # The check only compares: the committed tree of the copy is untouched.
    committed = "gen/descriptor.binpb"
    assert (work / committed).read_bytes() == (pristine / committed).read_bytes()
