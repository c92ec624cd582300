"""A small client for the API server: discovery, server-side apply, get/list/create, as one identity (a client
certificate or a bearer token). The API server's own status messages come back unchanged in ``ApiError``."""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

FIELD_MANAGER = "agentic-verify"


class ApiError(Exception):
    def __init__(self, status: int, message: str, reason: str = "", body: dict[str, Any] | None = None):
        super().__init__(f"{status} {reason}: {message}" if reason else f"{status}: {message}")
        self.status = status
        self.message = message
        self.reason = reason
        self.body = body or {}


@dataclass(frozen=True)
class Resource:
    group_version: str
    plural: str
    kind: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        base = f"/api/{self.group_version}" if "/" not in self.group_version else f"/apis/{self.group_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if sub:
            base += f"/{sub}"
        return base


class Client:
    def __init__(
        self,
        server: str,
        ca: Path,
        cert: tuple[Path, Path] | None = None,
        token: str | None = None,
        timeout: float = 30.0,
    ):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.server = server
        tls = ssl.create_default_context(cafile=str(ca))
        if cert:
            tls.load_cert_chain(str(cert[0]), str(cert[1]))
        self.http = httpx.Client(base_url=server, verify=tls, headers=headers, timeout=timeout)
        self._resources: dict[tuple[str, str], Resource] | None = None
        self.warnings: list[str] = []

    def close(self) -> None:
        self.http.close()

    # --- raw --------------------------------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json", **params: Any):
        data = None
        if body is not None:
            data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        resp = self.http.request(
            method, path, content=data, params=params or None, headers={"Content-Type": content_type}
        )
        self.warnings = [w for w in resp.headers.get_list("warning")]
        if resp.status_code >= 400:
            try:
                status = resp.json()
            except ValueError:
                raise ApiError(resp.status_code, resp.text.strip()) from None
            raise ApiError(resp.status_code, status.get("message", resp.text), status.get("reason", ""), status)
        return resp.json() if resp.content else {}

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, **params)

    def metadata_list(self, path: str) -> list[dict[str, Any]]:
        """The metadata of every object of a list path (PartialObjectMetadataList: no specs, however large)."""
        accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
        resp = self.http.get(path, headers={"Accept": accept})
        if resp.status_code >= 400:
            raise ApiError(resp.status_code, resp.text.strip())
        return [item["metadata"] for item in resp.json().get("items") or []]

    # --- discovery --------------------------------------------------------------------------------------------------

    def resources(self, refresh: bool = False) -> dict[tuple[str, str], Resource]:
        if self._resources is None or refresh:
            found: dict[tuple[str, str], Resource] = {}
            versions = [("v1", "/api/v1")]
            for group in self.get("/apis")["groups"]:
                for v in group["versions"]:
                    versions.append((v["groupVersion"], f"/apis/{v['groupVersion']}"))
            for gv, path in versions:
                try:
                    listing = self.get(path)
                except ApiError:
                    continue  # a group being removed or not served yet
                for r in listing["resources"]:
                    if "/" in r["name"]:
                        continue
                    found[(gv, r["kind"])] = Resource(gv, r["name"], r["kind"], r["namespaced"])
            self._resources = found
        return self._resources

    def resource(self, api_version: str, kind: str) -> Resource | None:
        found = self.resources().get((api_version, kind))
        if found is None:
            found = self.resources(refresh=True).get((api_version, kind))
        return found

    # --- objects ----------------------------------------------------------------------------------------------------

    def apply(self, obj: dict[str, Any], force: bool = True, dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply of one manifest; ApiError carries the API server's message."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        if res is None:
            raise ApiError(404, f"the server does not serve {obj['kind']} in {obj['apiVersion']}", "NotFound")
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") if res.namespaced else None
        if res.namespaced and not namespace:
            namespace = "default"
        params: dict[str, Any] = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
        if dry_run:
            params["dryRun"] = "All"
        return self.request("PATCH", res.path(namespace, meta["name"]), obj, "application/apply-patch+yaml", **params)

    def create(self, obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        res = self.resource(obj["apiVersion"], obj["kind"])
        if res is None:
            raise ApiError(404, f"the server does not serve {obj['kind']} in {obj['apiVersion']}", "NotFound")
        namespace = (obj.get("metadata") or {}).get("namespace") if res.namespaced else None
        params = {"dryRun": "All"} if dry_run else {}
        return self.request("POST", res.path(namespace or ("default" if res.namespaced else None)), obj, **params)

    def list_all(
        self, api_version: str, kind: str, namespace: str | None = None, **params: Any
    ) -> list[dict[str, Any]]:
        res = self.resource(api_version, kind)
        if res is None:
            return []
        return self.get(res.path(namespace), **params).get("items", [])

    def read(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        res = self.resource(api_version, kind)
        if res is None:
            raise ApiError(404, f"the server does not serve {kind} in {api_version}", "NotFound")
        return self.get(res.path(namespace, name))

    def can_i(
        self,
        user: str,
        groups: list[str],
        verb: str,
        resource: str,
        namespace: str | None = None,
        group: str = "",
        subresource: str = "",
        name: str = "",
    ) -> tuple[bool, str]:
        """A SubjectAccessReview: the authorizer's own answer for ``user`` (and its reason)."""
        attrs: dict[str, Any] = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attrs["namespace"] = namespace
        if subresource:
            attrs["subresource"] = subresource
        if name:
            attrs["name"] = name
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups, "resourceAttributes": attrs},
        }
        status = self.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review).get("status", {})
        return bool(status.get("allowed")), status.get("reason", "") or status.get("evaluationError", "")

    def token_for(self, namespace: str, service_account: str, seconds: int = 3600) -> str:
        """A TokenRequest for a ServiceAccount (what the kubelet projects into its pods)."""
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": seconds},
        }
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token"
        return self.request("POST", path, body)["status"]["token"]

    def wait(self, predicate: Any, timeout: float = 30.0, interval: float = 0.25) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result or time.monotonic() > deadline:
                return result
            time.sleep(interval)
