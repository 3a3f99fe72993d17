"""The publishing workflow: actions pinned by commit, least privilege per job, tests and a
strict build before anything is deployed."""

import re
from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "publish.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def test_every_action_is_pinned_to_a_commit_sha_with_its_tag():
    uses = [line.strip() for line in WORKFLOW.read_text(encoding="utf-8").splitlines() if "uses:" in line]
    assert len(uses) == 4
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


def test_build_tests_then_builds_strictly_then_uploads(workflow):
    build = steps(workflow, "build")
    runs = [s.get("run", "") for s in build]
    tests = next(i for i, r in enumerate(runs) if "-m pytest" in r)
    strict = next(i for i, r in enumerate(runs) if "mkdocs build --strict" in r)
    upload = next(i for i, s in enumerate(build) if "upload-pages-artifact" in s.get("uses", ""))
    assert tests < strict < upload
    assert "test_browser.py" in runs[tests]  # the browser tests are left out, not the unit tests
    assert " tests" in runs[tests]


def test_runs_on_push_to_main(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"]["branches"] == ["main"]
