"""Start and stop a control plane on loopback ports: etcd, kube-apiserver (RBAC, the admission plugins EKS enables),
kube-controller-manager, kube-scheduler, and a heartbeat that keeps the simulated nodes Ready.

Every process runs in its own session; ``stop`` signals exactly the PIDs this harness started (checked against
``/proc/<pid>/cmdline`` when stopping from a state file, so a reused PID is never signalled) and waits until their
ports are closed. State (PIDs, ports, kubeconfig) is in ``<dir>/state.json`` so ``agentic cluster down`` can stop a
control plane another process started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentic.cluster import binaries
from agentic.cluster.client import ApiError, Client
from agentic.cluster.pki import Authority

# The admission plugins every Amazon EKS platform version of Kubernetes 1.30 and later enables, as listed on
# "View Amazon EKS platform versions for each Kubernetes version"
# (https://docs.aws.amazon.com/eks/latest/userguide/platform-versions.html), plus ValidatingAdmissionPolicy
# (on by default since Kubernetes 1.30, GA). NodeRestriction and ExtendedResourceToleration are off by default in
# kube-apiserver; EKS turns them on, so does this list.
EKS_ADMISSION_PLUGINS = (
    "NodeRestriction",
    "ExtendedResourceToleration",
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "TaintNodesByCondition",
    "PodSecurity",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
)
SERVICE_CIDR = "10.96.0.0/16"
ISSUER = "https://kubernetes.default.svc.cluster.local"


class ControlPlaneError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class State:
    directory: str
    server: str
    ports: dict[str, int]
    pids: dict[str, int] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)  # name -> executable path, checked before signalling

    @property
    def kubeconfig(self) -> Path:
        return Path(self.directory) / "admin.kubeconfig"


def _kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path, user: str) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "agentic-test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": "agentic-test", "context": {"cluster": "agentic-test", "user": user}}],
        "current-context": "agentic-test",
    }
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)


class ControlPlane:
    """One control plane in ``directory`` (created; removed by ``stop(clean=True)``)."""

    def __init__(self, directory: Path):
        self.dir = Path(directory).resolve()
        self.state: State | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._admin: Client | None = None

    # --- lifecycle --------------------------------------------------------------------------------------------------

    @classmethod
    def attach(cls, directory: Path) -> ControlPlane:
        """The control plane another process left running in ``directory`` (``agentic cluster up``, ``verify
        --keep``): used, never stopped, by this one."""
        cp = cls(directory)
        path = cp.dir / "state.json"
        state = State(**json.loads(path.read_text())) if path.exists() else None
        api = (state.pids.get("kube-apiserver"), state.commands.get("kube-apiserver", "")) if state else (None, "")
        if state is None or api[0] is None or not _is_ours(api[0], api[1]):
            raise ControlPlaneError(
                f"no control plane is running in {cp.dir}: start one with `agentic cluster up --dir {cp.dir}`"
            )
        cp.state = state
        return cp

    def start(self, timeout: float = 120.0) -> ControlPlane:
        bins = binaries.find()
        self.dir.mkdir(parents=True, exist_ok=True)
        pki = Authority(self.dir / "pki")
        serving = pki.issue("apiserver", "kube-apiserver", server=True)
        admin = pki.issue("admin", "agentic-admin", ("system:masters",))
        kcm = pki.issue("controller-manager", "system:kube-controller-manager")
        sched = pki.issue("scheduler", "system:kube-scheduler")
        sa = pki.service_account_key()
        ports = {"etcd": free_port(), "etcd-peer": free_port(), "apiserver": free_port()}
        server = f"https://127.0.0.1:{ports['apiserver']}"
        _kubeconfig(self.dir / "admin.kubeconfig", server, pki.ca, admin.cert, admin.key, "admin")
        _kubeconfig(self.dir / "kcm.kubeconfig", server, pki.ca, kcm.cert, kcm.key, "kcm")
        _kubeconfig(self.dir / "scheduler.kubeconfig", server, pki.ca, sched.cert, sched.key, "scheduler")
        self.state = State(str(self.dir), server, ports)
        self._write_state()
        try:
            etcd_url = f"http://127.0.0.1:{ports['etcd']}"
            peer_url = f"http://127.0.0.1:{ports['etcd-peer']}"
            self._spawn(
                "etcd",
                bins["etcd"],
                [
                    "--name=default",
                    f"--data-dir={self.dir / 'etcd'}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=default={peer_url}",
                    "--unsafe-no-fsync",  # a throwaway store: durability costs seconds per apply on a busy disk
                    "--log-level=warn",
                    "--quota-backend-bytes=2147483648",
                ],
            )
            self._wait(lambda: port_open(ports["etcd"]), "etcd", 30)
            self._spawn(
                "kube-apiserver",
                bins["kube-apiserver"],
                [
                    f"--etcd-servers={etcd_url}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={ports['apiserver']}",
                    f"--tls-cert-file={serving.cert}",
                    f"--tls-private-key-file={serving.key}",
                    f"--client-ca-file={pki.ca}",
                    f"--service-account-issuer={ISSUER}",
                    f"--service-account-key-file={sa.cert}",
                    f"--service-account-signing-key-file={sa.key}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    "--authorization-mode=Node,RBAC",
                    f"--enable-admission-plugins={','.join(EKS_ADMISSION_PLUGINS)}",
                    "--allow-privileged=true",
                    "--anonymous-auth=false",
                    "--profiling=false",
                    "--endpoint-reconciler-type=none",
                    "--v=0",
                ],
            )
            self._wait(self._ready, "kube-apiserver", timeout)
            self._spawn(
                "kube-controller-manager",
                bins["kube-controller-manager"],
                [
                    f"--kubeconfig={self.dir / 'kcm.kubeconfig'}",
                    "--leader-elect=false",
                    "--secure-port=0",
                    "--use-service-account-credentials=true",
                    f"--service-account-private-key-file={sa.key}",
                    f"--root-ca-file={pki.ca}",
                    f"--cluster-signing-cert-file={pki.ca}",
                    f"--cluster-signing-key-file={pki.dir / 'ca.key'}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    "--concurrent-deployment-syncs=10",
                    "--concurrent-replicaset-syncs=10",
                    "--profiling=false",
                ],
            )
            self._spawn(
                "kube-scheduler",
                bins["kube-scheduler"],
                [
                    f"--kubeconfig={self.dir / 'scheduler.kubeconfig'}",
                    f"--authentication-kubeconfig={self.dir / 'scheduler.kubeconfig'}",
                    f"--authorization-kubeconfig={self.dir / 'scheduler.kubeconfig'}",
                    "--leader-elect=false",
                    "--secure-port=0",
                    "--profiling=false",
                ],
            )
            self._spawn(
                "heartbeat",
                Path(sys.executable),
                ["-m", "agentic.cluster.nodes", "--heartbeat", str(self.dir / "admin.kubeconfig")],
            )
            self._wait(self._default_sa, "the controller manager (default ServiceAccount)", timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, exe: Path, args: list[str]) -> None:
        log = open(self.dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        env = dict(os.environ)
        if name == "heartbeat":
            env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
        proc = subprocess.Popen(
            [str(exe), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
        log.close()
        self._procs[name] = proc
        assert self.state is not None
        self.state.pids[name] = proc.pid
        self.state.commands[name] = str(exe)
        self._write_state()

    def _wait(self, check: Any, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise ControlPlaneError(f"{name} exited with {proc.returncode}: {self.log_tail(name)}")
            with contextlib.suppress(Exception):
                if check():
                    return
            time.sleep(0.2)
        raise ControlPlaneError(f"{what} not ready after {timeout:.0f} s: {self.log_tail(what.split()[0])}")

    def _ready(self) -> bool:
        try:
            return self.admin().http.get("/readyz").status_code == 200
        except Exception:
            return False

    def _default_sa(self) -> bool:
        try:
            self.admin().read("v1", "ServiceAccount", "default", "default")
            return True
        except ApiError:
            return False

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.dir / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _write_state(self) -> None:
        assert self.state is not None
        (self.dir / "state.json").write_text(json.dumps(asdict(self.state), indent=2))

    def admin(self) -> Client:
        if self._admin is None:
            assert self.state is not None
            pki = self.dir / "pki"
            self._admin = Client(self.state.server, pki / "ca.crt", (pki / "admin.crt", pki / "admin.key"))
        return self._admin

    def version(self) -> str:
        return str(self.admin().get("/version").get("gitVersion", "?"))

    def client_for_token(self, token: str) -> Client:
        assert self.state is not None
        return Client(self.state.server, self.dir / "pki" / "ca.crt", token=token)

    def stop(self, clean: bool = False) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        # reverse start order: the clients go first, etcd last
        for name in reversed(list(self._procs)):
            _terminate(self._procs[name].pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._procs[name].wait(timeout=10)
            if self._procs[name].poll() is None:
                _kill(self._procs[name].pid)
                self._procs[name].wait(timeout=10)
        self._procs.clear()
        if self.state is not None:
            for port in self.state.ports.values():
                deadline = time.monotonic() + 10
                while port_open(port) and time.monotonic() < deadline:
                    time.sleep(0.1)
            self.state.pids.clear()
            self._write_state()
        if clean:
            import shutil

            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(clean=True)


def _terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _is_ours(pid: int, exe: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0].decode(errors="replace") == exe


def stop_from_state(directory: Path) -> list[str]:
    """Stop a control plane started by another process (``agentic cluster up``): only the PIDs in its state file
    whose command line is still the executable it started. Returns the names stopped."""
    path = Path(directory) / "state.json"
    if not path.exists():
        return []
    state = State(**json.loads(path.read_text()))
    stopped = []
    for name in reversed(list(state.pids)):
        pid = state.pids[name]
        if not _is_ours(pid, state.commands.get(name, "")):
            continue
        _terminate(pid)
        deadline = time.monotonic() + 10
        while _is_ours(pid, state.commands[name]) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_ours(pid, state.commands[name]):
            _kill(pid)
        stopped.append(name)
    state.pids.clear()
    path.write_text(json.dumps(asdict(state), indent=2))
    return stopped
