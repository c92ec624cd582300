"""The knowledge base: Milvus 2.6 (chart 5.0.19) and the job that creates its collection.

``standalone`` (dev): one Milvus pod, etcd and MinIO in the data namespace. ``cluster`` (prod): proxies, query and
data nodes from config, three etcd members, segments in a platform bucket (KMS, versioning, TLS only, no public
access) reached through EKS Pod Identity, never keys. Both use Woodpecker, the message queue the chart defaults to
for 2.6 (embedded, on the object storage), so no Pulsar or Kafka runs. Volumes are encrypted gp3. Authentication is
on; the root password is the generated ``milvus-root`` credential, set by the bootstrap job (Milvus starts with its
documented default and the job replaces it), so it never appears in Helm values. The bootstrap job (the platform's
agent-runtime image, ``agent-runtime kb init``) then creates the seed's ``agent_knowledge`` collection idempotently.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pulumi
from pydantic import Field

from catalog import versions
from components.agents.kagent_v0_10 import RUNTIME_UID
from components.secrets.credentials import Credentials, external_secret
from config.data import MilvusConfig, milvus_identity, redis_user
from config.secrets import SecretRef, aws_name
from kit.aws import pod_identity_role, secure_bucket
from kit.helm import HelmValues, ServiceAccountValues, release
from kit.labels import metadata
from kit.naming import safe_name
from kit.shared import Shared

PORT = 19530
RELEASE = "milvus"
SERVICE_ACCOUNT = "milvus"
CONNECTION_SECRET = "milvus-connection"
ROOT = SecretRef(name="milvus-root", key="password", source="generated")
#: Milvus turns authorization on with this user file; the root password itself is set by the bootstrap job.
USER_YAML = "common:\n  security:\n    authorizationEnabled: true\n"


def uri(namespace: str) -> str:
    return f"http://{RELEASE}.{namespace}.svc.cluster.local:{PORT}"


#: The Secret in the data namespace with every identity's password, for the kb-init job (MILVUS_KB_USERS).
USERS_SECRET = "milvus-kb-users"


def user_ref(namespace: str) -> SecretRef:
    """The password of the Milvus user of ``namespace``'s agents (config.data.milvus_identity): generated, kept in
    Secrets Manager, synced into that namespace and into the data namespace for the kb-init job."""
    return SecretRef(name=f"milvus-{redis_user(namespace)}", key="password", source="generated")


def connection_secret(
    namespace: str, data_ns: str, refresh: str, aws_secret: str, identity: str = "root"
) -> dict[str, Any]:
    """MILVUS_URI, and MILVUS_TOKEN as ``identity`` (a namespace's own user; root only for the data namespace's
    kb-init job) with MILVUS_DB_NAME, its own database."""
    template = {"MILVUS_URI": uri(data_ns), "MILVUS_TOKEN": f"{identity}:{{{{ .password }}}}"}
    if identity != "root":
        template["MILVUS_DB_NAME"] = identity
    return external_secret(CONNECTION_SECRET, namespace, refresh, {"password": aws_secret}, template=template)


def users_secret(data_ns: str, refresh: str, users: dict[str, str]) -> dict[str, Any]:
    """MILVUS_KB_USERS: identity -> password as JSON, each password JSON-quoted by the template (toJson)."""
    body = ", ".join(f'"{identity}": {{{{ .{identity} | toJson }}}}' for identity in sorted(users))
    return external_secret(USERS_SECRET, data_ns, refresh, dict(users), template={"MILVUS_KB_USERS": "{" + body + "}"})


def bucket_policy(bucket_arn: str, key_arn: str) -> dict[str, Any]:
    """Milvus reads, writes and lists its own bucket (segments, index files, the Woodpecker log), nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Objects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                "Resource": f"{bucket_arn}/*",
            },
            {
                "Sid": "Bucket",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": bucket_arn,
            },
            {
                "Sid": "Key",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": key_arn,
            },
        ],
    }


class _On(HelmValues):
    enabled: bool


class _Monitor(HelmValues):
    enabled: bool
    service_monitor: _On


class _Persistence(HelmValues):
    storage_class: str
    size: str


class _StandalonePersistence(HelmValues):
    enabled: bool
    persistent_volume_claim: _Persistence


class _Standalone(HelmValues):
    resources: dict[str, dict[str, str]]
    persistence: _StandalonePersistence


class _Replicas(HelmValues):
    replicas: int
    resources: dict[str, dict[str, str]] | None = None


class _EtcdPersistence(HelmValues):
    enabled: bool
    storage_class: str
    size: str


class _Etcd(HelmValues):
    replica_count: int
    persistence: _EtcdPersistence


class _MinioPersistence(HelmValues):
    enabled: bool
    storage_class: str
    size: str


class _Minio(HelmValues):
    enabled: bool
    mode: str | None = None
    persistence: _MinioPersistence | None = None


class _ExternalS3(HelmValues):
    enabled: bool
    host: str
    port: str
    use_ssl: bool = Field(alias="useSSL")
    bucket_name: Any
    root_path: str
    use_iam: bool = Field(alias="useIAM")
    cloud_provider: str
    region: str


class MilvusValues(HelmValues):
    cluster: _On
    metrics: _Monitor
    extra_config_files: dict[str, str]
    etcd: _Etcd
    minio: _Minio
    pulsarv3: _On
    external_s3: _ExternalS3 | None = None
    service_account: ServiceAccountValues | None = None
    standalone: _Standalone | None = None
    proxy: _Replicas | None = None
    query_node: _Replicas | None = None
    data_node: _Replicas | None = None
    mix_coordinator: _Replicas | None = None
    streaming_node: _Replicas | None = None


def milvus_values(cfg: MilvusConfig, region: str, monitoring: bool, bucket: Any = None) -> MilvusValues:
    res = {
        "requests": {"cpu": cfg.resources.cpu, "memory": cfg.resources.memory},
        "limits": {"cpu": cfg.resources.cpu, "memory": cfg.resources.memory},
    }
    cluster = cfg.mode == "cluster"
    values = MilvusValues(
        cluster=_On(enabled=cluster),
        metrics=_Monitor(enabled=True, service_monitor=_On(enabled=monitoring)),
        extra_config_files={"user.yaml": USER_YAML},
        etcd=_Etcd(
            replica_count=3 if cluster else 1,
            persistence=_EtcdPersistence(enabled=True, storage_class="gp3", size="10Gi"),
        ),
        minio=_Minio(enabled=cfg.storage == "in_cluster"),
        pulsarv3=_On(enabled=False),  # 2.6 streams through Woodpecker (streaming.enabled, embedded)
    )
    if cfg.storage == "in_cluster":
        values.minio = _Minio(
            enabled=True,
            mode="standalone",
            persistence=_MinioPersistence(enabled=True, storage_class="gp3", size=f"{cfg.storage_gib}Gi"),
        )
    else:
        values.external_s3 = _ExternalS3(
            enabled=True,
            host=f"s3.{region}.amazonaws.com",
            port="443",
            use_ssl=True,
            bucket_name=bucket,
            root_path="milvus",
            use_iam=True,
            cloud_provider="aws",
            region=region,
        )
        values.service_account = ServiceAccountValues(create=True, name=SERVICE_ACCOUNT)
    if cluster:
        values.proxy = _Replicas(replicas=cfg.proxies)
        values.query_node = _Replicas(replicas=cfg.query_nodes, resources=res)
        values.data_node = _Replicas(replicas=cfg.data_nodes, resources=res)
        values.streaming_node = _Replicas(replicas=2)
        values.mix_coordinator = _Replicas(replicas=1)
    else:
        values.standalone = _Standalone(
            resources=res,
            persistence=_StandalonePersistence(
                enabled=True, persistent_volume_claim=_Persistence(storage_class="gp3", size=f"{cfg.storage_gib}Gi")
            ),
        )
    return values


def kb_init_job(
    cfg: MilvusConfig, namespace: str, image: Any, generation: int, dim: int, identities: list[str] | None = None
) -> dict[str, Any]:
    """The bootstrap Job: set the root password if Milvus still has its default, then create the collection with
    the dimension of the knowledge base's embedding model (``config.data.embedding_of``), and give each identity
    (a namespace's agents) its own database, user and role (``--tenant-users``). Its name changes with what it does,
    so a changed collection, dimension, credential or set of identities runs it again."""
    identities = sorted(identities or [])
    digest = hashlib.sha256(json.dumps([cfg.collection, dim, generation, identities]).encode()).hexdigest()[:8]
    name = f"kb-init-{digest}"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(name, namespace),
        "spec": {
            "backoffLimit": 10,
            "ttlSecondsAfterFinished": 86_400,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "kb-init"}},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,  # it talks to Milvus only
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUNTIME_UID,
                        "runAsGroup": RUNTIME_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "kb-init",
                            "image": image,
                            "args": [
                                "kb",
                                "init",
                                "--collection",
                                cfg.collection,
                                "--dim",
                                str(dim),
                                "--bootstrap-root-password",
                                "--wait",
                                "300",
                                *(["--tenant-users"] if identities else []),
                            ],
                            "envFrom": [
                                {"secretRef": {"name": CONNECTION_SECRET}},
                                *([{"secretRef": {"name": USERS_SECRET}}] if identities else []),
                            ],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"cpu": "500m", "memory": "512Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


class Milvus(pulumi.ComponentResource):
    """Milvus, its bucket and role (object storage in S3), connection Secrets and the knowledge-base job."""

    endpoint: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: MilvusConfig,
        credentials: Credentials,
        readers: list[str],
        image: pulumi.Input[str] | None,
        shared: Shared,
        embedding_dim: int | None = None,
        users: list[str] | None = None,
    ):
        """``users``: every namespace whose agents use the knowledge base (each gets its own Milvus user, role and
        database); ``readers``: those this stack gives Secret milvus-connection (a self-service tenant's own stack
        makes its)."""
        super().__init__("agentic:data:Milvus", name, None, shared.k8s_opts())
        data_ns = shared.namespaces["data"]
        store = credentials.store
        bucket = None
        after: list[pulumi.Resource] = [shared.namespace_resources["data"]]
        if cfg.storage == "s3":
            self.bucket, key = secure_bucket(
                f"{name}-bucket",
                safe_name(shared.prefix, "milvus-", limit=37),
                f"{shared.prefix}-milvus",
                f"Milvus segments of {shared.prefix}",
                self,
            )
            bucket = self.bucket.bucket
            _, association = pod_identity_role(
                name,
                role_name=f"{shared.prefix}-milvus",
                policy=pulumi.Output.all(self.bucket.arn, key.arn).apply(
                    lambda a: json.dumps(bucket_policy(a[0], a[1]))
                ),
                cluster_name=shared.cluster_name_output,
                namespace=data_ns,
                service_account=SERVICE_ACCOUNT,
                parent=self,
                depends_on=list(shared.cluster_ready),
            )
            after.append(association)
        scope = shared.scope(self, name, data_ns, depends_on=tuple(after))
        self.release = release(
            f"{name}-release",
            versions.MILVUS,
            release_name=RELEASE,
            namespace=data_ns,
            values=milvus_values(cfg, shared.region, shared.monitoring_crds is not None, bucket),
            opts=scope.opts(),
        )
        self.endpoint = pulumi.Output.from_input(uri(data_ns))
        root = aws_name(ROOT, store.prefix)
        users = list(dict.fromkeys([*(users or []), *readers]))
        self.users = {ns: user_ref(ns) for ns in users}
        scope_data = shared.scope(self, f"{name}-connection", data_ns, depends_on=(store.store,))
        scope_data.apply(connection_secret(data_ns, data_ns, store.refresh_interval, root), name=data_ns)
        identities = {milvus_identity(ns): aws_name(ref, store.prefix) for ns, ref in self.users.items()}
        if identities:
            scope_data.apply(users_secret(data_ns, store.refresh_interval, identities), name="kb-users")
        for ns in sorted(set(readers) - {data_ns}):
            shared.scope(self, f"{name}-connection", ns, depends_on=(store.store,)).apply(
                connection_secret(
                    ns, data_ns, store.refresh_interval, aws_name(self.users[ns], store.prefix), milvus_identity(ns)
                ),
                name=ns,
            )
        if image is not None and embedding_dim is not None:
            job = kb_init_job(cfg, data_ns, image, shared.rotation.get(ROOT.name, 1), embedding_dim, sorted(identities))
            shared.scope(self, name, data_ns, depends_on=(self.release,)).apply(job, name="kb-init")
        elif embedding_dim is None:
            shared.notes.add(
                "data.milvus: the knowledge-base collection is not created: no embedding model is configured "
                "(data.milvus.embedding), so its dimension is unknown"
            )
        else:
            shared.notes.add(
                "data.milvus: the knowledge-base collection is not created (agent_runtime.build is "
                "false, so there is no image to run `agent-runtime kb init` from): run it yourself"
            )
        self.register_outputs({"endpoint": self.endpoint})
