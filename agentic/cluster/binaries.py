"""Build the control plane once into a cache directory keyed by what goes into it; find it afterwards.

The Go module in ``controlplane/`` builds kube-apiserver, kube-controller-manager, kube-scheduler (from
``k8s.io/kubernetes``, staging modules replaced by their published releases) and etcd (``etcdmain`` at the version the
module graph selects). ``make`` runs ``python -m agentic.cluster.binaries`` before the tests; tests only look the
binaries up, they never build or download.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from catalog import versions

MODULE = Path(__file__).resolve().parents[2] / "controlplane"
COMMANDS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


class NotBuilt(RuntimeError):
    pass


def ldflags() -> str:
    v = versions.CONTROL_PLANE_KUBERNETES  # "v1.35.4"
    major, minor = v.lstrip("v").split(".")[:2]
    stamps = [
        f"-X k8s.io/component-base/version.gitVersion={v}",
        f"-X k8s.io/component-base/version.gitMajor={major}",
        f"-X k8s.io/component-base/version.gitMinor={minor}",
        f"-X k8s.io/client-go/pkg/version.gitVersion={v}",
        "-X k8s.io/component-base/version.gitTreeState=clean",
    ]
    return " ".join(["-s", "-w", *stamps])


def build_key() -> str:
    """What the binaries depend on: the module files, the main packages, the link flags and the Go toolchain."""
    h = hashlib.sha256()
    for path in sorted([MODULE / "go.mod", MODULE / "go.sum", *MODULE.glob("cmd/*/main.go")]):
        h.update(path.relative_to(MODULE).as_posix().encode())
        h.update(path.read_bytes())
    h.update(ldflags().encode())
    h.update(_go_version().encode())
    return h.hexdigest()[:16]


def _go_version() -> str:
    go = shutil.which("go")
    if not go:
        return "no-go"
    return subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False).stdout.strip()


def cache_root() -> Path:
    base = os.environ.get("AGENTIC_CONTROLPLANE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "agentic-platform", "controlplane"
    )
    return Path(base)


def bin_dir() -> Path:
    return cache_root() / f"{versions.CONTROL_PLANE_KUBERNETES}-{build_key()}"


def module_pins() -> dict[str, str]:
    """What controlplane/go.mod requires (module -> version) and replaces (``replace:<module>`` -> version)."""
    import re

    pins: dict[str, str] = {}
    text = (MODULE / "go.mod").read_text()
    for m, v in re.findall(r"^\s*((?:k8s\.io|go\.etcd\.io)/\S+) (v\S+)\s*$", text, re.MULTILINE):
        pins[m] = v
    for m, v in re.findall(r"^\s*(k8s\.io/\S+) => \S+ (v\S+)\s*$", text, re.MULTILINE):
        pins[f"replace:{m}"] = v
    return pins


def check_pins() -> None:
    pins = module_pins()
    want = {
        "k8s.io/kubernetes": versions.CONTROL_PLANE_KUBERNETES,
        "go.etcd.io/etcd/server/v3": versions.CONTROL_PLANE_ETCD,
    }
    wrong = {m: (pins.get(m), v) for m, v in want.items() if pins.get(m) != v}
    if wrong:
        raise NotBuilt(f"controlplane/go.mod disagrees with catalog/versions.py: {wrong} (module: (go.mod, catalog))")


def find() -> dict[str, Path]:
    """The built binaries, or NotBuilt with the command that builds them."""
    check_pins()
    d = bin_dir()
    found = {c: d / c for c in COMMANDS}
    missing = [c for c, p in found.items() if not os.access(p, os.X_OK)]
    if missing:
        raise NotBuilt(
            f"control plane binaries not built ({', '.join(missing)} missing in {d}): run `make controlplane` "
            "(Go 1.25+ and the Go module proxy; about 25 minutes on 2 cores the first time, seconds afterwards)"
        )
    return found


def build(verbose: bool = True) -> Path:
    """Build into the cache unless already there; returns the directory. Atomic: a half-built directory is never
    seen by ``find``."""
    check_pins()
    target = bin_dir()
    if all(os.access(target / c, os.X_OK) for c in COMMANDS):
        return target
    go = shutil.which("go")
    if not go:
        raise NotBuilt("Go is not installed: the control plane is built from Go modules (`go` 1.25 or newer)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    started = time.monotonic()
    if verbose:
        print(f"building the control plane ({versions.CONTROL_PLANE_KUBERNETES}) into {target} ...", flush=True)
    env = {**os.environ, "GOFLAGS": "-buildvcs=false"}
    try:
        subprocess.run(
            [go, "build", "-trimpath", "-ldflags", ldflags(), "-o", str(tmp) + "/", "./cmd/..."],
            cwd=MODULE,
            env=env,
            check=True,
        )
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        print(f"built in {time.monotonic() - started:.0f} s", flush=True)
    return target


def ratelimit_dir() -> Path:
    key = hashlib.sha256(f"{versions.CONTROL_PLANE_RATELIMIT} {_go_version()}".encode()).hexdigest()[:16]
    return cache_root() / f"ratelimit-{key}"


def find_ratelimit() -> Path:
    """Envoy's rate limit service (the AI gateway's budget counter) at the commit of the catalog's image."""
    path = ratelimit_dir() / "service_cmd"
    if not os.access(path, os.X_OK):
        raise NotBuilt(f"Envoy's rate limit service is not built ({path}): run `make controlplane`")
    return path


def build_ratelimit(verbose: bool = True) -> Path:
    """``go install`` of the pinned module version (the Go module proxy; seconds after the first time)."""
    target = ratelimit_dir()
    if os.access(target / "service_cmd", os.X_OK):
        return target / "service_cmd"
    go = shutil.which("go")
    if not go:
        raise NotBuilt("Go is not installed: Envoy's rate limit service is built from its Go module")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    if verbose:
        print(f"building {versions.CONTROL_PLANE_RATELIMIT} into {target} ...", flush=True)
    try:
        env = {**os.environ, "GOBIN": str(tmp), "GOFLAGS": "-buildvcs=false"}
        subprocess.run([go, "install", "-trimpath", versions.CONTROL_PLANE_RATELIMIT], env=env, check=True)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / "service_cmd"


if __name__ == "__main__":
    try:
        print(build_ratelimit())
        print(build())
    except (NotBuilt, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
