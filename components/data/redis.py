"""Session memory: Redis-compatible storage, one connection Secret for its readers whichever way it runs.

``data.redis.mode: in_cluster`` (dev) installs the official Valkey chart with ACL auth from the generated
``redis-auth`` credential, a persistent volume and a ServiceMonitor. ``elasticache`` (prod) creates an Amazon
ElastiCache replication group: multi-AZ with automatic failover, TLS in transit, at-rest encryption with its own KMS
key, RBAC users in a user group, in the private subnets behind a security group that admits the cluster's nodes only.

Either way every namespace whose agents use Redis has its own user, limited to its own key prefix
(config.data.REDIS_ACL), with a generated password kept in Secrets Manager; its Secret ``redis-connection`` holds
``REDIS_URL`` (``rediss://`` when TLS) as that user and ``REDIS_KEY_PREFIX``. The administrator's password
(``redis-auth``) stays in the data namespace.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import versions
from components.secrets.credentials import Credentials, external_secret, generation_annotations
from config.data import RedisConfig, redis_acl, redis_key_prefix, redis_user, service_acl
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


def user_ref(namespace: str, rotation: dict[str, int]) -> SecretRef:
    """The password of the Redis user of ``namespace``'s agents (config.data.redis_user), generated and kept in
    Secrets Manager like every credential; synced only into that namespace (and into the data namespace for the
    server's ACL)."""
    name = f"redis-{redis_user(namespace)}"
    return SecretRef(name=name, key="password", source="generated", generation=rotation.get(name, 1))


def service_user_ref(user: str, rotation: dict[str, int]) -> SecretRef:
    """The password of a platform service's Redis user (config.data.SERVICE_ACL): generated, kept in Secrets Manager,
    synced only into that service's namespace (and the data namespace for the server's ACL)."""
    name = f"redis-{user}"
    return SecretRef(name=name, key="password", source="generated", generation=rotation.get(name, 1))


def service_connection_secret(
    user: str, namespace: str, endpoint: Any, tls: bool, refresh: str, aws_secret: str, generation: int
) -> dict:
    """Secret ``<user>-redis`` in the service's namespace, in the variables Envoy's rate limit service reads."""
    template = {"REDIS_URL": endpoint, "REDIS_AUTH": f"{user}:{{{{ .password }}}}", "REDIS_TLS": str(tls).lower()}
    return external_secret(
        f"{user}-redis", namespace, refresh, {"password": aws_secret}, template=template, generation=generation
    )


def redis_url_template(host: str | pulumi.Output[str], tls: bool, user: str) -> Any:
    """``REDIS_URL`` as an external-secrets template: the password is filled in by the operator, in the cluster."""
    scheme = "rediss" if tls else "redis"
    return pulumi.Output.concat(scheme, f"://{user}:{{{{ .password | urlquery }}}}@", host, f":{PORT}/0")


def connection_secret(
    namespace: str,
    url_template: Any,
    refresh: str,
    aws_secret: str,
    generation: int,
    address: Any = None,
    tls: bool = False,
) -> dict:
    """``REDIS_URL`` for clients as the namespace's own Redis user, its key prefix, and the same endpoint as
    address/user/password/TLS for KEDA's redis scaler."""
    template = {
        "REDIS_URL": url_template,
        "REDIS_USERNAME": redis_user(namespace),
        "REDIS_PASSWORD": "{{ .password }}",
        "REDIS_KEY_PREFIX": redis_key_prefix(namespace),
        "REDIS_TLS": str(tls).lower(),
    }
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


def valkey_values(
    cfg: RedisConfig,
    ref: SecretRef,
    monitoring: bool,
    users: list[str],
    rotation: dict[str, int] | None = None,
    services: tuple[str, ...] = (),
) -> ValkeyValues:
    """``users``: the namespaces whose agents get a Redis user (their own key prefix, config.data.REDIS_ACL). The
    'default' user is the administrator; only the data namespace holds its password."""
    acl = {"default": {"permissions": "~* &* +@all", "passwordKey": ref.key}}
    acl |= {redis_user(ns): {"permissions": redis_acl(ns), "passwordKey": redis_user(ns)} for ns in users}
    acl |= {user: {"permissions": service_acl(user), "passwordKey": user} for user in services}
    return ValkeyValues(
        auth=_Auth(enabled=True, users_existing_secret=ref.name, acl_users=acl),
        data_storage=_Storage(enabled=True, requested_size=f"{cfg.storage_gib}Gi", class_name="gp3"),
        metrics=_Metrics(enabled=True, service_monitor=_Monitor(enabled=monitoring)),
        resources={
            "requests": {"cpu": cfg.resources.cpu, "memory": cfg.resources.memory},
            "limits": {"cpu": cfg.resources.cpu, "memory": cfg.resources.memory},
        },
        # every password Valkey loads: a rotated one gives a new pod template, so the server restarts with it
        pod_annotations=generation_annotations(
            [
                ref,
                *(user_ref(ns, rotation or {}) for ns in users),
                *(service_user_ref(u, rotation or {}) for u in services),
            ]
        ),
    )


class Redis(pulumi.ComponentResource):
    """Redis for session memory; ``endpoint`` (host:port) and ``tls`` are what tenant stacks read."""

    endpoint: pulumi.Output[str]
    tls: bool

    def __init__(
        self,
        name: str,
        cfg: RedisConfig,
        credentials: Credentials,
        readers: list[str],
        shared: Shared,
        users: list[str] | None = None,
        services: dict[str, str] | None = None,
    ):
        """``users``: every namespace whose agents use Redis (each gets its own ACL user); ``readers``: those this
        stack gives Secret redis-connection (a self-service tenant's own stack makes its); ``services``: Redis user
        of a platform service -> its namespace (Secret ``<user>-redis``)."""
        super().__init__("agentic:data:Redis", name, None, shared.k8s_opts())
        data_ns = shared.namespaces["data"]
        ref = auth_ref(shared.rotation.get(AUTH.name, 1))
        store = credentials.store
        users = list(dict.fromkeys([*(users or []), *readers]))
        self.users = {ns: user_ref(ns, shared.rotation) for ns in users}
        self.services = {u: (ns, service_user_ref(u, shared.rotation)) for u, ns in (services or {}).items()}
        if cfg.mode == "in_cluster":
            self.tls = False
            host: Any = f"{RELEASE}.{data_ns}.svc.cluster.local"
            scope = shared.scope(self, name, data_ns, depends_on=(store.store, shared.namespace_resources["data"]))
            auth_secret = scope.apply(
                external_secret(
                    ref.name,
                    data_ns,
                    store.refresh_interval,
                    {
                        ref.key: aws_name(ref, store.prefix),
                        **{redis_user(ns): aws_name(u, store.prefix) for ns, u in self.users.items()},
                        **{u: aws_name(r, store.prefix) for u, (_, r) in self.services.items()},
                    },
                    generation=ref.generation,
                ),
                name="auth",
            )
            self.release = release(
                f"{name}-valkey",
                versions.VALKEY,
                release_name=RELEASE,
                namespace=data_ns,
                values=valkey_values(
                    cfg, ref, shared.monitoring_crds is not None, users, shared.rotation, tuple(self.services)
                ),
                opts=scope.opts(depends_on=[auth_secret]),
            )
            after: tuple[pulumi.Resource, ...] = (self.release,)
        else:
            self.tls = True
            group = self._users(name, cfg, credentials, ref, shared)
            self.replication_group = self._elasticache(name, cfg, group, shared)
            host = self.replication_group.primary_endpoint_address
            after = (self.replication_group,)
        self.host = pulumi.Output.from_input(host)
        self.auth = ref
        self.endpoint = pulumi.Output.concat(host, f":{PORT}")
        for ns in readers:
            mine = self.users[ns]
            shared.scope(self, f"{name}-connection", ns, depends_on=(store.store, *after)).apply(
                connection_secret(
                    ns,
                    redis_url_template(host, self.tls, redis_user(ns)),
                    store.refresh_interval,
                    aws_name(mine, store.prefix),
                    mine.generation,
                    self.endpoint,
                    self.tls,
                ),
                name=ns,
            )
        for user, (ns, r) in self.services.items():
            shared.scope(self, f"{name}-{user}", ns, depends_on=(store.store, *after)).apply(
                service_connection_secret(
                    user, ns, self.endpoint, self.tls, store.refresh_interval, aws_name(r, store.prefix), r.generation
                ),
                name=user,
            )
        self.register_outputs({"endpoint": self.endpoint})

    def _users(
        self, name: str, cfg: RedisConfig, credentials: Credentials, admin: SecretRef, shared: Shared
    ) -> aws.elasticache.UserGroup:
        """ElastiCache RBAC: the administrator as user 'default' (every user group needs one) and one user per
        namespace with its own key prefix, in one user group of the replication group."""
        child = pulumi.ResourceOptions(parent=self)
        made = [
            aws.elasticache.User(
                f"{name}-user-default",
                user_id=safe_name(shared.prefix, "redis-admin", limit=40),
                user_name="default",
                engine=cfg.engine,
                access_string="on ~* +@all",
                passwords=[credentials.value(admin.name)],
                opts=child,
            )
        ]
        for ns, ref in self.users.items():
            made.append(
                aws.elasticache.User(
                    f"{name}-user-{redis_user(ns)}",
                    user_id=safe_name(shared.prefix, f"redis-{redis_user(ns)}", limit=40),
                    user_name=redis_user(ns),
                    engine=cfg.engine,
                    access_string=f"on {redis_acl(ns)}",
                    passwords=[credentials.value(ref.name)],
                    opts=child,
                )
            )
        for user, (_, r) in self.services.items():
            made.append(
                aws.elasticache.User(
                    f"{name}-user-{user}",
                    user_id=safe_name(shared.prefix, f"redis-{user}", limit=40),
                    user_name=user,
                    engine=cfg.engine,
                    access_string=f"on {service_acl(user)}",
                    passwords=[credentials.value(r.name)],
                    opts=child,
                )
            )
        return aws.elasticache.UserGroup(
            f"{name}-users",
            user_group_id=safe_name(shared.prefix, "redis", limit=40),
            engine=cfg.engine,
            user_ids=[u.user_id for u in made],
            opts=child,
        )

    def _elasticache(
        self, name: str, cfg: RedisConfig, users: aws.elasticache.UserGroup, shared: Shared
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
            user_group_ids=[users.user_group_id],  # RBAC users (an auth token would be one password for all)
            subnet_group_name=subnets.name,
            security_group_ids=[sg.id],
            snapshot_retention_limit=7,
            apply_immediately=True,
            opts=child,
        )
