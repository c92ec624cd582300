"""Session memory: Redis-compatible storage, one connection Secret for its readers whichever way it runs.

``data.redis.mode: in_cluster`` (dev) installs the official Valkey chart with ACL auth from the generated
``redis-auth`` credential, a persistent volume and a ServiceMonitor. ``elasticache`` (prod) creates an Amazon
ElastiCache replication group: multi-AZ with automatic failover, TLS in transit, at-rest encryption with its own KMS
key, the same credential as its auth token, in the private subnets behind a security group that admits the cluster's
nodes only. Either way the agents namespace (and every tenant allowed Redis) gets Secret ``redis-connection`` with
``REDIS_URL`` (``rediss://`` when TLS), made by an ExternalSecret template around the password.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import versions
from components.secrets.credentials import Credentials, external_secret, generation_annotations
from config.data import RedisConfig
from config.secrets import SecretRef, aws_name
from kit.aws import kms_key
from kit.helm import HelmValues, release
from kit.naming import safe_name
from kit.shared import Shared

PORT = 6379
RELEASE = "valkey"
CONNECTION_SECRET = "redis-connection"
AUTH = SecretRef(name="redis-auth", key="password", source="generated")


def auth_ref(generation: int) -> SecretRef:
    return AUTH.model_copy(update={"generation": generation})


def redis_url_template(host: str | pulumi.Output[str], tls: bool) -> Any:
    """``REDIS_URL`` as an external-secrets template: the password is filled in by the operator, in the cluster."""
    scheme = "rediss" if tls else "redis"
    return pulumi.Output.concat(scheme, "://:{{ .password | urlquery }}@", host, f":{PORT}/0")


def connection_secret(
    namespace: str,
    url_template: Any,
    refresh: str,
    aws_secret: str,
    generation: int,
    address: Any = None,
    tls: bool = False,
) -> dict:
    """``REDIS_URL`` for clients, and the same endpoint as address/password/TLS for KEDA's redis scaler."""
    template = {"REDIS_URL": url_template, "REDIS_PASSWORD": "{{ .password }}", "REDIS_TLS": str(tls).lower()}
    if address is not None:
        template["REDIS_ADDRESS"] = address
    return external_secret(
        CONNECTION_SECRET, namespace, refresh, {"password": aws_secret}, template=template, generation=generation
    )


class _Auth(HelmValues):
    enabled: bool
    users_existing_secret: str
    acl_users: dict[str, dict[str, str]]


class _Storage(HelmValues):
    enabled: bool
    requested_size: str
    class_name: str


class _Monitor(HelmValues):
    enabled: bool


class _Metrics(HelmValues):
    enabled: bool
    service_monitor: _Monitor


class ValkeyValues(HelmValues):
    auth: _Auth
    data_storage: _Storage
    metrics: _Metrics
    resources: dict[str, dict[str, str]]
    pod_annotations: dict[str, str]


def valkey_values(cfg: RedisConfig, ref: SecretRef, monitoring: bool) -> ValkeyValues:
    return ValkeyValues(
        # The 'default' user is the one clients authenticate as with a password only (redis://:pw@host).
        auth=_Auth(
            enabled=True,
            users_existing_secret=ref.name,
            acl_users={"default": {"permissions": "~* &* +@all", "passwordKey": ref.key}},
        ),
        data_storage=_Storage(enabled=True, requested_size=f"{cfg.storage_gib}Gi", class_name="gp3"),
        metrics=_Metrics(enabled=True, service_monitor=_Monitor(enabled=monitoring)),
        resources={
            "requests": {"cpu": cfg.resources.cpu, "memory": cfg.resources.memory},
            "limits": {"cpu": cfg.resources.cpu, "memory": cfg.resources.memory},
        },
        pod_annotations=generation_annotations([ref]),
    )


class Redis(pulumi.ComponentResource):
    """Redis for session memory; ``endpoint`` (host:port) and ``tls`` are what tenant stacks read."""

    endpoint: pulumi.Output[str]
    tls: bool

    def __init__(self, name: str, cfg: RedisConfig, credentials: Credentials, readers: list[str], shared: Shared):
        super().__init__("agentic:data:Redis", name, None, shared.k8s_opts())
        data_ns = shared.namespaces["data"]
        ref = auth_ref(shared.rotation.get(AUTH.name, 1))
        store = credentials.store
        if cfg.mode == "in_cluster":
            self.tls = False
            host: Any = f"{RELEASE}.{data_ns}.svc.cluster.local"
            scope = shared.scope(self, name, data_ns, depends_on=(store.store, shared.namespace_resources["data"]))
            auth_secret = scope.apply(
                external_secret(
                    ref.name,
                    data_ns,
                    store.refresh_interval,
                    {ref.key: aws_name(ref, store.prefix)},
                    generation=ref.generation,
                ),
                name="auth",
            )
            self.release = release(
                f"{name}-valkey",
                versions.VALKEY,
                release_name=RELEASE,
                namespace=data_ns,
                values=valkey_values(cfg, ref, shared.monitoring_crds is not None),
                opts=scope.opts(depends_on=[auth_secret]),
            )
            after: tuple[pulumi.Resource, ...] = (self.release,)
        else:
            self.tls = True
            self.replication_group = self._elasticache(name, cfg, credentials.value(ref.name), shared)
            host = self.replication_group.primary_endpoint_address
            after = (self.replication_group,)
        self.host = pulumi.Output.from_input(host)
        self.auth = ref
        self.endpoint = pulumi.Output.concat(host, f":{PORT}")
        template = redis_url_template(host, self.tls)
        for ns in readers:
            shared.scope(self, f"{name}-connection", ns, depends_on=(store.store, *after)).apply(
                connection_secret(
                    ns,
                    template,
                    store.refresh_interval,
                    aws_name(ref, store.prefix),
                    ref.generation,
                    self.endpoint,
                    self.tls,
                ),
                name=ns,
            )
        self.register_outputs({"endpoint": self.endpoint})

    def _elasticache(
        self, name: str, cfg: RedisConfig, token: pulumi.Output[str], shared: Shared
    ) -> aws.elasticache.ReplicationGroup:
        child = pulumi.ResourceOptions(parent=self)
        key = kms_key(f"{name}-key", f"{shared.prefix}-redis", f"ElastiCache of {shared.prefix}", self)
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            name=safe_name(shared.prefix, "redis", limit=200),
            subnet_ids=list(shared.private_subnet_ids),
            description=f"Private subnets of {shared.prefix}",
            opts=child,
        )
        sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            name=safe_name(shared.prefix, "redis", limit=200),
            vpc_id=shared.vpc_id,
            description=f"Redis of {shared.prefix}: the cluster's nodes only",
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-nodes",
            security_group_id=sg.id,
            referenced_security_group_id=shared.node_security_group_id,
            ip_protocol="tcp",
            from_port=PORT,
            to_port=PORT,
            description="Redis from the cluster's nodes",
            opts=child,
        )
        return aws.elasticache.ReplicationGroup(
            f"{name}-group",
            replication_group_id=safe_name(shared.prefix, "redis", limit=40),
            description=f"Session memory of {shared.prefix}",
            engine=cfg.engine,
            engine_version=versions.ELASTICACHE_ENGINE_VERSIONS[cfg.engine],
            node_type=cfg.node_type,
            num_cache_clusters=cfg.replicas + 1,
            port=PORT,
            automatic_failover_enabled=cfg.replicas > 0,
            multi_az_enabled=cfg.replicas > 0,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            kms_key_id=key.arn,
            auth_token=token,
            auth_token_update_strategy="ROTATE",
            subnet_group_name=subnets.name,
            security_group_ids=[sg.id],
            snapshot_retention_limit=7,
            apply_immediately=True,
            opts=child,
        )
