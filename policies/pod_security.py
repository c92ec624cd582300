"""The Pod Security Standards level a pod spec needs (Kubernetes' baseline and restricted controls): used by the
offline plan and the policy that no workload breaks its namespace's level. tests/cluster/test_differential.py holds
it to PodSecurity admission's verdict on every rendered pod template and on templates broken one control at a time."""

from __future__ import annotations

from typing import Any

LEVELS = ("restricted", "baseline", "privileged")
#: Capabilities baseline admits (Kubernetes PSS "baseline: Capabilities").
BASELINE_CAPS = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}


#: Sysctls baseline admits (Kubernetes PSS "baseline: Sysctls").
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
#: SELinux types baseline admits (user and role must be unset).
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def _baseline_context(where: str, sc: dict[str, Any], user_namespace: bool = False) -> list[str]:
    """Controls of a pod or container securityContext that baseline checks."""
    out = []
    if ((sc.get("seccompProfile") or {}).get("type")) == "Unconfined":
        out.append(f"{where}: seccompProfile Unconfined")
    if ((sc.get("appArmorProfile") or {}).get("type")) == "Unconfined":
        out.append(f"{where}: appArmorProfile Unconfined")
    se = sc.get("seLinuxOptions") or {}
    if se.get("type", "") not in SELINUX_TYPES or se.get("user") or se.get("role"):
        out.append(f"{where}: seLinuxOptions {se}")
    if (sc.get("windowsOptions") or {}).get("hostProcess"):
        out.append(f"{where}: windows hostProcess")
    if sc.get("procMount") not in (None, "Default") and not user_namespace:  # allowed in a user namespace
        out.append(f"{where}: procMount {sc.get('procMount')}")
    return out


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for k in ("initContainers", "containers", "ephemeralContainers") for c in spec.get(k) or []]


def violations(spec: dict[str, Any]) -> dict[str, list[str]]:
    """level -> what in ``spec`` (a pod spec) that level forbids."""
    base: list[str] = []
    restricted: list[str] = []
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host):
            base.append(host)
    for v in spec.get("volumes") or []:
        if "hostPath" in v:
            base.append(f"hostPath volume {v.get('name')}")
    pod_sc = spec.get("securityContext") or {}
    base += _baseline_context("pod", pod_sc)
    for s in pod_sc.get("sysctls") or []:
        if s.get("name") not in SAFE_SYSCTLS:
            base.append(f"sysctl {s.get('name')}")
    for c in _containers(spec):
        sc = c.get("securityContext") or {}
        name = c.get("name", "?")
        base += _baseline_context(name, sc, spec.get("hostUsers") is False)
        if sc.get("privileged"):
            base.append(f"{name}: privileged")
        added = set((sc.get("capabilities") or {}).get("add") or [])
        if added - BASELINE_CAPS:
            base.append(f"{name}: adds {sorted(added - BASELINE_CAPS)}")
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                base.append(f"{name}: hostPort {p['hostPort']}")
        if sc.get("procMount") not in (None, "Default"):  # restricted refuses it even in a user namespace
            restricted.append(f"{name}: procMount {sc.get('procMount')}")
        if sc.get("allowPrivilegeEscalation") is not False:
            restricted.append(f"{name}: allowPrivilegeEscalation not false")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            restricted.append(f"{name}: capabilities not dropped (ALL)")
        if added - {"NET_BIND_SERVICE"}:
            restricted.append(f"{name}: adds capabilities")
        if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
            restricted.append(f"{name}: runAsNonRoot not set")
        if (sc.get("runAsUser") if "runAsUser" in sc else pod_sc.get("runAsUser")) == 0:
            restricted.append(f"{name}: runs as root")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            restricted.append(f"{name}: seccompProfile not RuntimeDefault")
    for v in spec.get("volumes") or []:
        allowed = {
            "name",
            "configMap",
            "csi",
            "downwardAPI",
            "emptyDir",
            "ephemeral",
            "persistentVolumeClaim",
            "projected",
            "secret",
        }
        if set(v) - allowed:
            restricted.append(f"volume {v.get('name')}: {sorted(set(v) - allowed)}")
    return {"baseline": base, "restricted": base + restricted}


def required_level(spec: dict[str, Any]) -> str:
    """The most restrictive level that admits ``spec``."""
    found = violations(spec)
    if not found["restricted"]:
        return "restricted"
    return "baseline" if not found["baseline"] else "privileged"


def admits(namespace_level: str, spec: dict[str, Any]) -> bool:
    return LEVELS.index(required_level(spec)) <= LEVELS.index(namespace_level)
