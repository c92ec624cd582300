"""kagent 0.10 itself: the ``kagent-crds`` and ``kagent`` charts in the agents namespace, and its database.

The bundled demo agents, their tool server and the chart's default ModelConfig are off: every agent and model config
comes from the platform config. The controller watches the agents namespace and every tenant namespace, exports traces
to the collector, is scraped by a ServiceMonitor when monitoring is on, and runs two replicas with leader election and
a PodDisruptionBudget in prod. Its database is the chart's PostgreSQL in dev; in prod an RDS PostgreSQL instance
(private subnets, nodes-only security group, KMS encryption, automated backups, deletion protection, the master
password managed by RDS in Secrets Manager) whose URL reaches the controller as a file from Secret ``kagent-database``
(an ExternalSecret templating the URL around the managed password): never in config, outputs or manifests.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
from pydantic import Field

from catalog import versions
from components.data.postgres import PG_PORT, password_secret, rds_postgres
from components.secrets.operator import SecretsStore
from config.agents import KagentConfig
from kit.helm import HelmValues, release
from kit.monitors import service_monitor
from kit.shared import Shared

RELEASE = "kagent"
DB_SECRET = "kagent-database"
DB_MOUNT = "/etc/kagent-database"
DB_USER = "kagent"
DB_NAME = "kagent"
#: Chart keys of the bundled demo agents and extra tool servers (subcharts), all turned off.
DEMO_SUBCHARTS = (
    "kagent-tools",
    "grafana-mcp",
    "querydoc",
    "k8s-agent",
    "kgateway-agent",
    "istio-agent",
    "promql-agent",
    "observability-agent",
    "argo-rollouts-agent",
    "helm-agent",
    "cilium-policy-agent",
    "cilium-manager-agent",
    "cilium-debug-agent",
)
METRICS_PORT = 9090  # within the ports the observability namespace may scrape
CONTROLLER_LABELS = {
    "app.kubernetes.io/name": "kagent",
    "app.kubernetes.io/instance": RELEASE,
    "app.kubernetes.io/component": "controller",
}


class _Bundled(HelmValues):
    enabled: bool
    storage_class_name: str | None = None


class _Postgres(HelmValues):
    url_file: str | None = None
    vector_enabled: bool
    bundled: _Bundled


class _Database(HelmValues):
    postgres: _Postgres


class _Pdb(HelmValues):
    enabled: bool


class _MetricsService(HelmValues):
    port: int


class _Metrics(HelmValues):
    enabled: bool
    bind_address: str
    secure_serving: bool
    service: _MetricsService


class _Controller(HelmValues):
    replicas: int
    watch_namespaces: list[str]
    pdb: _Pdb
    metrics: _Metrics
    volumes: list[dict[str, Any]] | None = None
    volume_mounts: list[dict[str, Any]] | None = None


class _Endpoint(HelmValues):
    endpoint: str
    protocol: str
    insecure: bool


class _Exporter(HelmValues):
    otlp: _Endpoint


class _Tracing(HelmValues):
    enabled: bool
    exporter: _Exporter | None = None


class _Otel(HelmValues):
    tracing: _Tracing


class _On(HelmValues):
    enabled: bool


class KagentValues(HelmValues):
    controller: _Controller
    database: _Database
    otel: _Otel
    kmcp: _On
    demo: dict[str, _On] = Field(default_factory=dict, exclude=True)

    def render(self) -> dict[str, Any]:
        out = super().render()
        out.update({chart: {"enabled": False} for chart in DEMO_SUBCHARTS})
        out["providers"] = None  # null removes the chart's default ModelConfig (`if .Values.providers`)
        return out


def kagent_values(
    cfg: KagentConfig, *, ha: bool, watch: list[str], rds: bool, otel_endpoint: str | None, vector: bool
) -> KagentValues:
    replicas = cfg.controller_replicas or (2 if ha else 1)
    postgres = _Postgres(
        vector_enabled=vector, bundled=_Bundled(enabled=not rds, storage_class_name=None if rds else "gp3")
    )
    volumes = mounts = None
    if rds:
        postgres.url_file = f"{DB_MOUNT}/url"
        volumes = [{"name": "database", "secret": {"secretName": DB_SECRET, "defaultMode": 0o400}}]
        mounts = [{"name": "database", "mountPath": DB_MOUNT, "readOnly": True}]
    tracing = _Tracing(enabled=otel_endpoint is not None)
    if otel_endpoint:
        tracing.exporter = _Exporter(otlp=_Endpoint(endpoint=otel_endpoint, protocol="grpc", insecure=True))
    return KagentValues(
        controller=_Controller(
            replicas=replicas,
            watch_namespaces=sorted(watch),
            pdb=_Pdb(enabled=replicas > 1),
            metrics=_Metrics(
                enabled=True,
                bind_address=f":{METRICS_PORT}",
                secure_serving=False,
                service=_MetricsService(port=METRICS_PORT),
            ),
            volumes=volumes,
            volume_mounts=mounts,
        ),
        database=_Database(postgres=postgres),
        otel=_Otel(tracing=tracing),
        kmcp=_On(enabled=True),
    )


def database_url_template(host: Any) -> Any:
    return pulumi.Output.concat(
        f"postgres://{DB_USER}:{{{{ .password | urlquery }}}}@", host, f":{PG_PORT}/{DB_NAME}?sslmode=require"
    )


class Kagent(pulumi.ComponentResource):
    """The kagent controller (charts pinned), its CRDs and database; ``crds`` is what kagent objects depend on."""

    def __init__(
        self,
        name: str,
        cfg: KagentConfig,
        rds: bool,
        watch: list[str],
        otel_endpoint: str | None,
        vector: bool,
        store: SecretsStore,
        shared: Shared,
    ):
        super().__init__("agentic:agents:Kagent", name, None, shared.k8s_opts())
        ns = shared.namespaces["agents"]
        scope = shared.scope(self, name, ns, depends_on=(shared.namespace_resources["agents"], *shared.cluster_ready))
        self.crds = release(
            f"{name}-crds", versions.KAGENT_CRDS, release_name="kagent-crds", namespace=ns, opts=scope.opts()
        )
        after: list[pulumi.Resource] = [self.crds]
        if rds:
            self.db = self._database(name, cfg, store, shared)
            # RDS's managed secret holds JSON {username, password}: the URL is templated around its password.
            after.append(
                scope.apply(
                    password_secret(
                        DB_SECRET, ns, store.refresh_interval, self.db, {"url": database_url_template(self.db.address)}
                    ),
                    name="database-url",
                    depends_on=[store.store, self.db],
                )
            )
        values = kagent_values(
            cfg, ha=shared.high_availability, watch=watch, rds=rds, otel_endpoint=otel_endpoint, vector=vector
        )
        self.release = release(
            f"{name}-controller",
            versions.KAGENT,
            release_name=RELEASE,
            namespace=ns,
            values=values,
            opts=scope.opts(depends_on=after),
        )
        if shared.monitoring_crds is not None:
            shared.scope(self, name, ns, depends_on=(self.release, shared.monitoring_crds)).apply(
                service_monitor("kagent-controller", ns, CONTROLLER_LABELS, "http-metrics"), name="monitor"
            )
        self.register_outputs({})

    def _database(self, name: str, cfg: KagentConfig, store: SecretsStore, shared: Shared) -> aws.rds.Instance:
        db = cfg.database
        return rds_postgres(
            f"{name}-db",
            parent=self,
            shared=shared,
            store=store,
            db_name=DB_NAME,
            username=DB_USER,
            instance_class=db.instance_class,
            storage_gib=db.storage_gib,
            backup_days=db.backup_retention_days,
            multi_az=db.multi_az if db.multi_az is not None else shared.high_availability,
        )
