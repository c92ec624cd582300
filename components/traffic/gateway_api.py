"""The Gateway API standard-channel CRDs (v1.6.1), installed by the platform before kgateway: the kgateway-crds chart
does not carry them. Vendored in catalog/data so the plan and `pulumi up` need no download.

They are applied with pulumi-kubernetes' ``yaml.v2.ConfigGroup`` (the provider reads the files, relative to the
project directory where `pulumi` runs): five CRDs of about a megabyte each would otherwise dominate every preview's
serialization. The plan records the one ConfigGroup and its files; tests check the files' content."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from catalog.versions import GATEWAY_API_BUNDLE
from kit.labels import managed
from kit.shared import Shared

CRD_FILES = f"catalog/data/gateway-api-{GATEWAY_API_BUNDLE}/*.yaml"  # relative to the project directory
CRD_DIR = Path(__file__).resolve().parents[2] / "catalog" / "data" / f"gateway-api-{GATEWAY_API_BUNDLE}"


@functools.lru_cache(maxsize=1)
def _parsed() -> tuple[dict[str, Any], ...]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the CRDs are ~1 MB of YAML
    return tuple(
        doc for path in sorted(CRD_DIR.glob("*.yaml")) for doc in yaml.load_all(path.read_text(), Loader=loader)
    )


def gateway_api_crds() -> list[dict[str, Any]]:
    """The CRD manifests, with the platform's labels added beside upstream's."""
    out = []
    for doc in copy.deepcopy(_parsed()):
        if doc and doc.get("kind") == "CustomResourceDefinition":
            doc["metadata"]["labels"] = {**(doc["metadata"].get("labels") or {}), **managed()}
            doc.pop("status", None)
            out.append(doc)
    return out


class GatewayApiCrds(pulumi.ComponentResource):
    def __init__(self, name: str, shared: Shared):
        super().__init__("agentic:k8s:GatewayApiCrds", name, None, shared.k8s_opts())
        scope = shared.scope(self, name, depends_on=shared.cluster_ready)
        self.crds = k8s.yaml.v2.ConfigGroup(f"{name}-crds", files=[CRD_FILES], opts=scope.opts())
        self.register_outputs({})
