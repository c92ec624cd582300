"""The image recipe (no Docker engine here: its structure is checked) and the platform program's build-and-push
resource under the Pulumi mock engine."""

from __future__ import annotations

import re
import sys
from pathlib import Path

RUNTIME = Path(__file__).resolve().parent.parent
ROOT = RUNTIME.parent


def dockerfile() -> str:
    return (RUNTIME / "Dockerfile").read_text()


def test_multi_stage_slim_non_root_healthcheck():
    text = dockerfile()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.MULTILINE)
    assert len(stages) == 3 and all(s[0] == "${PYTHON_IMAGE}" for s in stages)
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert "COPY --from=build /opt/venv /opt/venv" in text  # no compilers or pip caches in the final image
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    assert "useradd --uid 10001" in text
    assert "HEALTHCHECK" in text and "/health" in text
    assert "git" in text and "/usr/local/bin/kubectl" in text and "sha256sum -c" in text
    assert 'ENTRYPOINT ["agent-runtime"]' in text and "EXPOSE 8080" in text


def test_dockerfile_defaults_match_pinned_versions():
    sys.path.insert(0, str(ROOT))
    from catalog import versions

    text = dockerfile()
    assert f"ARG PYTHON_IMAGE={versions.AGENT_RUNTIME_BASE_IMAGE}" in text
    assert f"ARG KUBECTL_VERSION={versions.KUBECTL}" in text


def test_image_excludes_tests_and_heavy_ml():
    assert "tests/" in (RUNTIME / ".dockerignore").read_text()
    import tomllib

    deps = tomllib.loads((RUNTIME / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not any(d.startswith(("torch", "sentence-transformers", "milvus-lite")) for d in deps)


def test_platform_builds_and_pushes_to_ecr_tagged_by_content(tmp_path):
    sys.path.insert(0, str(ROOT))
    from components.foundation.runtime_image import content_tag
    from tests.conftest import build_stack, stack_raw

    run = build_stack(stack_raw("prod"))
    [image] = run.of_type("docker-build:index:Image")
    i = image.inputs
    url = run.outputs["ecr_repository_url"]
    tag = content_tag()
    assert tag.startswith("src-") and i["tags"] == [f"{url}:{tag}"] and i["push"] is True
    assert i["buildOnPreview"] is False
    assert i["context"]["location"] == "agent_runtime"  # relative: the same input wherever the tree is planned
    assert i["dockerfile"]["location"] == "agent_runtime/Dockerfile"
    assert i["platforms"] == ["linux/amd64"]
    assert i["buildArgs"]["KUBECTL_VERSION"].startswith("v1.35")
    reg = i["registries"][0]
    assert reg["address"] == url.split("/")[0] and reg["username"] == "AWS" and reg["password"] == "[secret]"
    assert run.outputs["agent_runtime_image"].startswith(f"{url}:{tag}@sha256:")
    # the tag follows what goes into the image: a copy hashes the same, a changed source file does not, tests do not
    import shutil

    copy = tmp_path / "agent_runtime"
    shutil.copytree(RUNTIME, copy, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    assert content_tag(copy) == tag
    (copy / "tests" / "new_test.py").write_text("x = 1\n")
    assert content_tag(copy) == tag
    (copy / "src" / "agent_runtime" / "__init__.py").write_text("# changed\n")
    assert content_tag(copy) != tag


def test_no_image_when_build_is_off():
    sys.path.insert(0, str(ROOT))
    from tests.conftest import build_stack, stack_raw

    raw = stack_raw("dev")
    raw["agent_runtime"]["build"] = False
    byo = next(a for a in raw["kagent"]["agents"] if a["type"] == "BYO")
    byo["image"] = "ghcr.io/example/agent:1.0.0"
    raw["kagent"]["mcp_servers"][0].update(kind="kmcp", image="ghcr.io/example/mcp:1.0.0")
    raw["kagent"]["mcp_servers"][0].pop("namespaces")
    run = build_stack(raw)
    assert run.of_type("docker-build:index:Image") == []


def test_no_extra_of_the_default_install_pulls_torch():
    """`make` installs the runtime with its test, lite and local-embeddings extras; none may need torch (a CPU build
    is not available, and the CUDA one is gigabytes): local embeddings run on ONNX Runtime."""
    import tomllib

    project = tomllib.loads((RUNTIME / "pyproject.toml").read_text())["project"]
    for extra in ("test", "lite", "local-embeddings"):
        deps = project["optional-dependencies"][extra]
        assert not any(d.startswith(("torch", "sentence-transformers", "transformers")) for d in deps), extra
