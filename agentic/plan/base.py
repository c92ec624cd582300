"""Plan a stack twice: in the working tree, and at a git ref (the base branch), each with its own code.

The base is exported with ``git archive`` into a temporary directory (the repository is not touched) and planned in a
fresh Python process with that directory first on the import path, so the base's own program and components run.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path


def verify_ref(project: Path, ref: str) -> str:
    """The commit ``ref`` names, or RuntimeError: a ref is never read as an option (``--output=x``), and one git cannot
    resolve is refused before anything runs."""
    if not ref or ref.startswith("-"):
        raise RuntimeError(f"{ref!r} is not a git ref (refs do not start with '-')")
    done = subprocess.run(
        ["git", "-C", str(project), "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git cannot resolve {ref!r} to a commit in {project}")
    return done.stdout.strip()


def export_ref(project: Path, ref: str, into: Path) -> Path:
    """The tree of ``ref`` in ``into``; RuntimeError when git cannot resolve it."""
    commit = verify_ref(project, ref)
    top = subprocess.run(
        ["git", "-C", str(project), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
    )
    if top.returncode != 0:
        raise RuntimeError(f"{project} is not in a git repository: give two plan directories instead")
    rel = os.path.relpath(project.resolve(), Path(top.stdout.strip()).resolve())
    archive = subprocess.run(
        ["git", "-C", top.stdout.strip(), "archive", "--format=tar", "--end-of-options", commit],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise RuntimeError(f"git cannot export {ref!r}: {archive.stderr.decode()[:200].strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / rel if rel != "." else into


def plan_in(tree: Path, stack: str, out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "agentic.cli", "plan", "--stack", stack, "-C", str(tree), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
        check=False,
    )
    if done.returncode not in (0, 3) or not (out / "inventory.json").is_file():
        raise RuntimeError(f"planning {stack} in {tree} failed: {(done.stderr or done.stdout)[-400:]}")


def plans_against_base(stack: str, base: str, project: Path) -> tuple[Path, Path]:
    """(base plan dir, working-tree plan dir) in a temporary directory kept for the caller to read."""
    work = Path(tempfile.mkdtemp(prefix="agentic-diff-"))
    base_tree = export_ref(project, base, work / "base")
    plan_in(base_tree, stack, work / "old")
    plan_in(project, stack, work / "new")
    return work / "old", work / "new"
