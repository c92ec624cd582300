"""Data and secrets guardrails (issue #11): Secrets only through external-secrets, ElastiCache with TLS and auth, S3
buckets private and TLS-only, volumes only on encrypted StorageClasses. Plain functions over resource properties,
importing nothing from the project (the pack installs alone)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

try:  # in-process: the policies package; `pulumi preview --policy-pack policies`: this directory on sys.path
    from policies.common import get as _get
except ImportError:  # pragma: no cover
    from common import get as _get  # type: ignore[no-redef]

SECRET = "kubernetes:core/v1:Secret"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
ENVIRONMENT_TAG = "agentic.platform/environment"
STORAGE_CLASS_KEYS = {"storageClass", "storageClassName", "className"}


def environment(resources: Iterable[Any]) -> str | None:
    """The stack's environment, from the tags every AWS resource carries (provider default tags included)."""
    for r in resources:
        for tags in (_get(r.props, "tags"), _get(r.props, "defaultTags", "tags")):
            if isinstance(tags, Mapping) and isinstance(tags.get(ENVIRONMENT_TAG), str):
                return tags[ENVIRONMENT_TAG]
    return None


def check_secrets_from_store(resources: list[Any]) -> list[tuple[str, str]]:
    """Kubernetes Secrets come from ExternalSecrets (AWS Secrets Manager); a Pulumi-made Secret only in dev, and only
    with values Pulumi holds as secrets. ExternalSecrets read through the platform's ClusterSecretStore."""
    env = environment(resources)
    out = []
    for r in resources:
        if r.type == SECRET:
            if env != "dev":
                out.append(
                    (
                        r.name,
                        f"Kubernetes Secret created directly in a {env or 'non-dev'} stack: sync it from "
                        "AWS Secrets Manager with an ExternalSecret",
                    )
                )
        elif r.type == EXTERNAL_SECRET:
            ref = _get(r.props, "spec", "secretStoreRef") or {}
            if ref.get("kind") != "ClusterSecretStore":
                out.append(
                    (
                        r.name,
                        "ExternalSecret must read through the platform's ClusterSecretStore "
                        f"(secretStoreRef.kind is {ref.get('kind')!r})",
                    )
                )
    return out


def check_elasticache(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != REPLICATION_GROUP:
        return []
    out = []
    if not props.get("transitEncryptionEnabled"):
        out.append("ElastiCache must encrypt in transit: set transitEncryptionEnabled")
    if props.get("transitEncryptionMode") not in (None, "required"):
        out.append("ElastiCache transit encryption must be 'required', not 'preferred' (plaintext still accepted)")
    if not props.get("atRestEncryptionEnabled"):
        out.append("ElastiCache must encrypt at rest: set atRestEncryptionEnabled (with a KMS key)")
    if not props.get("authToken") and not props.get("userGroupIds"):
        out.append("ElastiCache must require auth: set authToken (from Secrets Manager) or a user group")
    return out


def _bucket_links(resources: list[Any]) -> dict[str, str]:
    """Bucket id (and resource name) -> bucket resource name, to find a bucket's access block and policy."""
    links = {}
    for r in resources:
        if r.type == BUCKET:
            links[r.name] = r.name
            for key in ("bucket", "id"):
                if isinstance(r.props.get(key), str) and r.props[key]:
                    links[r.props[key]] = r.name
    return links


def _owner(r: Any, links: dict[str, str], suffix: str) -> str | None:
    bucket = r.props.get("bucket")
    if isinstance(bucket, str) and bucket in links:
        return links[bucket]
    base = r.name[: -len(suffix)] if r.name.endswith(suffix) else None  # unknown id during preview: naming
    return links.get(f"{base}-bucket") if base else None


def _denies_insecure_transport(policy: Any) -> bool:
    import json

    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return False
    for st in (policy or {}).get("Statement", []) if isinstance(policy, Mapping) else []:
        cond = _get(st, "Condition", "Bool", "aws:SecureTransport")
        if st.get("Effect") == "Deny" and str(cond).lower() == "false":
            return True
    return False


def check_buckets(resources: list[Any]) -> list[tuple[str, str]]:
    """Every bucket blocks public access (all four settings) and denies requests without TLS."""
    links = _bucket_links(resources)
    blocked, tls_only = set(), set()
    for r in resources:
        if r.type == PUBLIC_ACCESS_BLOCK and all(
            r.props.get(k)
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        ):
            blocked.add(_owner(r, links, "-public-access-block"))
        elif r.type == BUCKET_POLICY and _denies_insecure_transport(r.props.get("policy")):
            tls_only.add(_owner(r, links, "-tls-only"))
    out = []
    for r in resources:
        if r.type != BUCKET:
            continue
        if r.name not in blocked:
            out.append((r.name, "S3 bucket without a public access block setting all four protections"))
        if r.name not in tls_only:
            out.append((r.name, "S3 bucket without a policy denying requests where aws:SecureTransport is false"))
    return out


def _storage_classes_in(value: Any, path: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            here = f"{path}.{k}" if path else str(k)
            if k in STORAGE_CLASS_KEYS and isinstance(v, str) and v:
                yield here, v
            else:
                yield from _storage_classes_in(v, here)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _storage_classes_in(v, f"{path}[{i}]")


def check_encrypted_volumes(resources: list[Any]) -> list[tuple[str, str]]:
    """StorageClasses encrypt; claims (PVCs, StatefulSet templates, Helm values) name only encrypted classes."""
    encrypted = {
        _get(r.props, "metadata", "name")
        for r in resources
        if r.type == STORAGE_CLASS and str(_get(r.props, "parameters", "encrypted")).lower() == "true"
    }
    out = []
    for r in resources:
        if r.type == STORAGE_CLASS and _get(r.props, "metadata", "name") not in encrypted:
            out.append((r.name, 'StorageClass without parameters.encrypted: "true"'))
        claims: list[tuple[str, str]] = []
        if r.type == PVC:
            claims = [("spec.storageClassName", _get(r.props, "spec", "storageClassName") or "")]
        elif r.type == STATEFUL_SET:
            claims = [
                (f"spec.volumeClaimTemplates[{i}]", _get(t, "spec", "storageClassName") or "")
                for i, t in enumerate(_get(r.props, "spec", "volumeClaimTemplates") or [])
            ]
        elif r.type == HELM_RELEASE:
            claims = list(_storage_classes_in(r.props.get("values") or {}, "values"))
        for path, name in claims:
            if name not in encrypted:
                out.append(
                    (
                        r.name,
                        f"{path} uses StorageClass {name or '(cluster default)'!r}, which is not an "
                        f"encrypted class of this stack ({', '.join(sorted(encrypted)) or 'none'})",
                    )
                )
    return out
