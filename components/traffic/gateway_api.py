"""The Gateway API standard-channel CRDs (v1.6.1), installed by the platform before kgateway: the kgateway-crds chart
does not carry them. Vendored in catalog/data so the plan and `pulumi up` need no download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import yaml

from catalog.versions import GATEWAY_API_BUNDLE
from kit.labels import managed
from kit.shared import Shared

CRD_DIR = Path(__file__).resolve().parents[2] / "catalog" / "data" / f"gateway-api-{GATEWAY_API_BUNDLE}"


def gateway_api_crds() -> list[dict[str, Any]]:
    """The CRD manifests, with the platform's labels added beside upstream's."""
    out = []
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                doc["metadata"]["labels"] = {**(doc["metadata"].get("labels") or {}), **managed()}
                doc.pop("status", None)
                out.append(doc)
    return out


class GatewayApiCrds(pulumi.ComponentResource):
    def __init__(self, name: str, shared: Shared):
        super().__init__("agentic:k8s:GatewayApiCrds", name, None, shared.k8s_opts())
        scope = shared.scope(self, name, depends_on=shared.cluster_ready)
        self.crds = [scope.apply(crd, name=crd["metadata"]["name"]) for crd in gateway_api_crds()]
        self.register_outputs({})
