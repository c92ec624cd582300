"""Langfuse (chart 2.0.0) for LLM traces, when ``observability.langfuse`` is on.

dev: everything in the observability namespace as the chart ships it (PostgreSQL, Valkey, SeaweedFS as S3, and
ClickHouse through the ClickHouse operator's ``clickhouse.com/v1alpha1`` resources). prod: PostgreSQL is an RDS
instance the platform creates (password managed by RDS, reaching Langfuse through an ExternalSecret) and blob storage
is a platform S3 bucket reached through EKS Pod Identity; ClickHouse stays as the chart prescribes (operator-managed:
the chart has no external-ClickHouse-by-default path worth taking here). The chart's check for the ClickHouse operator
CRDs is off so an offline render works; the ClickHouse operator itself must be installed in the cluster first
(the plan says so). The project's API keys are platform credentials (generated unless config names them), seeded
into Langfuse by its headless initialisation and handed to the collector for OTLP Basic auth.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

from catalog import versions
from components.data.postgres import password_secret, rds_postgres
from components.secrets.credentials import external_secret
from components.secrets.operator import SecretsStore
from config.observability import LangfuseClickHouse
from config.secrets import SecretRef, aws_name
from kit.aws import pod_identity_role, secure_bucket
from kit.helm import HelmValues, release
from kit.naming import safe_name
from kit.shared import Shared

RELEASE = "langfuse"
SERVICE_ACCOUNT = "langfuse"
KEYS_SECRET = "langfuse-keys"
DB_SECRET = "langfuse-postgres"
PUBLIC_KEY = SecretRef(name="langfuse-public-key", key="value", source="generated")
SECRET_KEY = SecretRef(name="langfuse-secret-key", key="value", source="generated")


def web_url(namespace: str) -> str:
    return f"http://{RELEASE}-web.{namespace}.svc.cluster.local:3000"


def keys_secret(namespace: str, refresh: str, public: str, secret: str, generated: bool) -> dict[str, Any]:
    """Langfuse's project keys (generated ones get Langfuse's pk-lf-/sk-lf- prefixes) and ``auth``, the OTLP Basic
    credentials base64("<public>:<secret>") the collector sends; from two Secrets Manager secrets."""
    pk, sk = ("pk-lf-", "sk-lf-") if generated else ("", "")
    return external_secret(
        KEYS_SECRET,
        namespace,
        refresh,
        {"public": public, "secret": secret},
        template={
            "public-key": pk + "{{ .public }}",
            "secret-key": sk + "{{ .secret }}",
            "auth": f'{{{{ printf "{pk}%s:{sk}%s" .public .secret | b64enc }}}}',
        },
    )


def init_env() -> list[dict[str, Any]]:
    """Langfuse's headless initialisation: an organisation and project with the platform's keys."""

    def ref(key: str) -> dict[str, Any]:
        return {"valueFrom": {"secretKeyRef": {"name": KEYS_SECRET, "key": key}}}

    return [
        {"name": "LANGFUSE_INIT_ORG_ID", "value": "agentic-platform"},
        {"name": "LANGFUSE_INIT_ORG_NAME", "value": "agentic-platform"},
        {"name": "LANGFUSE_INIT_PROJECT_ID", "value": "agents"},
        {"name": "LANGFUSE_INIT_PROJECT_NAME", "value": "agents"},
        {"name": "LANGFUSE_INIT_PROJECT_PUBLIC_KEY", **ref("public-key")},
        {"name": "LANGFUSE_INIT_PROJECT_SECRET_KEY", **ref("secret-key")},
    ]


def bucket_policy(bucket_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Objects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"{bucket_arn}/*",
            },
            {"Sid": "Bucket", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn},
        ],
    }


class _Langfuse(HelmValues):
    additional_env: list[dict[str, Any]]
    service_account: dict[str, Any]
    logging: dict[str, str]


class _Postgres(HelmValues):
    deploy: bool
    host: Any = None
    auth: dict[str, Any] | None = None


class _ClickHouseAuth(HelmValues):
    username: str
    existing_secret: str
    existing_secret_key: str


class _ClickHouseMigration(HelmValues):
    ssl: bool


class _ClickHouseCluster(HelmValues):
    enabled: bool


class _ClickHouse(HelmValues):
    deploy: bool
    crd_check: bool
    host: str | None = None
    http_port: int | None = None
    native_port: int | None = None
    database: str | None = None
    auth: _ClickHouseAuth | None = None
    migration: _ClickHouseMigration | None = None
    cluster: _ClickHouseCluster | None = None


class _S3(HelmValues):
    deploy: bool
    bucket: Any = None
    region: str | None = None
    force_path_style: bool | None = None


class LangfuseValues(HelmValues):
    langfuse: _Langfuse
    postgresql: _Postgres
    clickhouse: _ClickHouse
    s3: _S3


def clickhouse_values(ch: LangfuseClickHouse) -> _ClickHouse:
    """The chart's ClickHouseCluster (operator mode), or an external ClickHouse with its password from a Secret."""
    if ch.mode == "operator":
        return _ClickHouse(deploy=True, crd_check=False)
    assert ch.password is not None and ch.host is not None  # config.observability checks it
    return _ClickHouse(
        deploy=False,
        crd_check=False,
        host=ch.host,
        http_port=ch.http_port,
        native_port=ch.native_port,
        database=ch.database,
        auth=_ClickHouseAuth(
            username=ch.username, existing_secret=ch.password.name, existing_secret_key=ch.password.key
        ),
        migration=_ClickHouseMigration(ssl=ch.tls),
        cluster=_ClickHouseCluster(enabled=False),
    )


def langfuse_values(
    prod: bool,
    region: str,
    db_host: Any = None,
    bucket: Any = None,
    clickhouse: LangfuseClickHouse | None = None,
) -> LangfuseValues:
    values = LangfuseValues(
        langfuse=_Langfuse(
            additional_env=init_env(),
            logging={"format": "json", "level": "info"},
            service_account={"create": True, "name": SERVICE_ACCOUNT},
        ),
        postgresql=_Postgres(deploy=True),
        clickhouse=clickhouse_values(clickhouse or LangfuseClickHouse()),
        s3=_S3(deploy=True),
    )
    if prod:
        values.postgresql = _Postgres(
            deploy=False,
            host=db_host,
            auth={"username": "langfuse", "existingSecret": DB_SECRET, "secretKeys": {"userPasswordKey": "password"}},
        )
        values.s3 = _S3(deploy=False, bucket=bucket, region=region, force_path_style=False)
    return values


class Langfuse(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        public: SecretRef,
        secret: SecretRef,
        store: SecretsStore,
        shared: Shared,
        clickhouse: LangfuseClickHouse | None = None,
    ):
        clickhouse = clickhouse or LangfuseClickHouse()
        super().__init__("agentic:k8s:Langfuse", name, None, shared.k8s_opts())
        ns = shared.namespaces["observability"]
        scope = shared.scope(self, name, ns, depends_on=(shared.namespace_resources["observability"], store.store))
        after = [
            scope.apply(
                keys_secret(
                    ns,
                    store.refresh_interval,
                    aws_name(public, store.prefix),
                    aws_name(secret, store.prefix),
                    public.source == "generated",
                ),
                name="keys",
            )
        ]
        self.keys = after[0]
        db_host = bucket_name = None
        if shared.high_availability:
            db = rds_postgres(
                f"{name}-db",
                parent=self,
                shared=shared,
                store=store,
                db_name="langfuse",
                username="langfuse",
                instance_class="db.t4g.large",
                storage_gib=50,
                backup_days=14,
                multi_az=True,
            )
            db_host = db.address
            after.append(
                scope.apply(
                    password_secret(DB_SECRET, ns, store.refresh_interval, db, {"password": "{{ .password }}"}),
                    name="database",
                    depends_on=[db],
                )
            )
            bucket, _ = secure_bucket(
                f"{name}-bucket",
                safe_name(shared.prefix, "langfuse-", limit=37),
                f"{shared.prefix}-langfuse",
                f"Langfuse blobs of {shared.prefix}",
                self,
            )
            bucket_name = bucket.bucket
            _, assoc = pod_identity_role(
                f"{name}-s3",
                role_name=f"{shared.prefix}-langfuse",
                policy=bucket.arn.apply(lambda a: json.dumps(bucket_policy(a))),
                cluster_name=shared.cluster_name_output,
                namespace=ns,
                service_account=SERVICE_ACCOUNT,
                parent=self,
                depends_on=list(shared.cluster_ready),
            )
            after.append(assoc)
        self.release = release(
            f"{name}-release",
            versions.LANGFUSE,
            release_name=RELEASE,
            namespace=ns,
            values=langfuse_values(shared.high_availability, shared.region, db_host, bucket_name, clickhouse),
            opts=scope.opts(depends_on=after),
        )
        if clickhouse.mode == "operator":
            shared.notes.add(
                f"observability.langfuse: install the ClickHouse operator (clickhouse.com/v1alpha1) before "
                f"Langfuse: its chart's CRD check is off for the offline render ({RELEASE} in {ns})"
            )
        self.register_outputs({})
