"""The publishing workflow: actions pinned by commit, least privilege per job, a time limit per
job, pinned tools from one index per package source, and the full test command and a strict build
before anything is deployed."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def test_every_action_is_pinned_to_a_commit_sha_with_its_tag():
    uses = [line.strip() for line in WORKFLOW.read_text(encoding="utf-8").splitlines() if "uses:" in line]
    assert len(uses) == 3
    for line in uses:
        assert re.fullmatch(r"(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+(\.\d+)*", line), line


def test_every_uses_in_the_parsed_file_is_a_sha(workflow):
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


def test_no_write_permission_at_workflow_level(workflow):
    top = workflow.get("permissions", {})
    assert top == {} or all(v in ("read", "none") for v in top.values()), top


def test_each_job_has_only_what_it_needs(workflow):
    assert workflow["jobs"]["build"]["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def test_deploy_needs_build(workflow):
    needs = workflow["jobs"]["deploy"]["needs"]
    assert needs == "build" or "build" in needs


def test_build_runs_the_full_test_command_then_builds_strictly_then_uploads(workflow):
    build = steps(workflow, "build")
    runs = [s.get("run", "") for s in build]
    tests = next(i for i, r in enumerate(runs) if "scripts/test.sh" in r)
    strict = next(i for i, r in enumerate(runs) if "mkdocs build --strict" in r)
    upload = next(i for i, s in enumerate(build) if "upload-pages-artifact" in s.get("uses", ""))
    assert tests < strict < upload
    assert runs[tests].strip() == "scripts/test.sh"  # every test: nothing --ignore'd, nothing deselected
    assert not any("pytest" in r for r in runs)  # no second, shorter test command


def test_every_job_has_a_time_limit(workflow):
    for name, job in workflow["jobs"].items():
        assert 0 < job.get("timeout-minutes", 0) <= 90, name


def install_lines() -> list[str]:
    """Every line of the workflow and of the setup script it runs that installs a Python package."""
    text = WORKFLOW.read_text(encoding="utf-8") + (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    return [line for line in text.replace("\\\n", " ").splitlines() if re.search(r"pip\b.* install\b", line)]


def test_one_index_per_package_source_and_only_pinned_files():
    lines = install_lines()
    assert lines
    for line in lines:
        assert "--extra-index-url" not in line, line  # never two indexes merged for one install
        if "--index-url" in line:  # a second source serves one pinned package and none of its dependencies
            assert "--no-deps" in line and '"$torch_pin"' in line, line
        else:
            assert re.search(r"-r requirements/(build|dev)\.txt|--no-deps --no-build-isolation -e \.", line), line
    assert not any("--upgrade" in line for line in lines)  # nothing unpinned, pip included


def test_build_tools_are_pinned():
    for name in ("build.txt", "dev.txt"):
        for line in (ROOT / "requirements" / name).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                assert re.fullmatch(r"[\w.-]+==[\w.+]+", line.strip()), (name, line)
    build = (ROOT / "requirements" / "build.txt").read_text(encoding="utf-8")
    assert "pip==" in build and "setuptools==" in build


def test_runs_on_push_to_main(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"]["branches"] == ["main"]
