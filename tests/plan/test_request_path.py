"""Request-path journeys: every in-cluster client the plan configures (each ModelConfig's base URL and headers, each
BYO agent's LLM URL and headers) is followed through the rendered Gateway API objects as the Gateway API resolves it:
listener port and hostname, the listener's allowedRoutes, the route's hostnames, parentRefs and header match, the
backend Service and port, and the Deployment pods behind it with their container port. Flagger's routes (written
into the Canary's namespace) must be admitted by the listeners too. A client whose request would dead-end fails."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.cluster.chart_standins import chart_pool, releases_of

PLANS = ["dev", "prod", "tenant-demo"]


def _objects(plans, stack: str) -> list[dict[str, Any]]:
    objs = [dict(r.inputs) for r in plans(stack).run.kubernetes_objects()]
    if stack.startswith("tenant-"):  # a tenant's clients call the platform's gateway: resolve on the dev platform
        objs += [dict(r.inputs) for r in plans("dev").run.kubernetes_objects()]
    return objs + _flagger_routes(objs) + [chart_pool(r) for r in releases_of(plans(stack))]


def _flagger_routes(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The HTTPRoute Flagger writes for a Canary (gatewayapi provider): in the Canary's namespace, its hosts and
    gateways, its match, to the primary and canary Services Flagger makes from the target Deployment (mid-rollout
    both carry traffic; both run the target's pod template)."""
    out = []
    for c in (o for o in objs if o["kind"] == "Canary"):
        svc = c["spec"]["service"]
        ns = c["metadata"]["namespace"]
        matches = [
            {
                "path": {"type": "PathPrefix", "value": "/"},
                "headers": [
                    {"name": h, "value": v["exact"]} for m in svc.get("match", []) for h, v in m["headers"].items()
                ],
            }
        ]
        target = c["spec"]["targetRef"]["name"]
        backends = [
            {"name": target, "port": svc["port"], "flagger": svc.get("targetPort", svc["port"]), "weight": w}
            for w in (90, 10)  # primary and canary, mid-rollout
        ]
        spec: dict[str, Any] = {
            "parentRefs": [{"name": g["name"], "namespace": g["namespace"]} for g in svc["gatewayRefs"]],
            "rules": [{"matches": matches, "backendRefs": backends}],
        }
        if svc.get("hosts"):
            spec["hostnames"] = list(svc["hosts"])
        out.append({"kind": "HTTPRoute", "metadata": {"name": f"{target}-flagger", "namespace": ns}, "spec": spec})
    return out


def _clients(objs: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, str]]]:
    """(who, URL, headers) of every client that calls a model through the gateway. The body's ``model`` rides along
    as the pseudo-header ``:model`` (the AI gateway routes by it)."""
    out = []
    for o in objs:
        if o["kind"] == "ModelConfig" and (o["spec"].get("openAI") or {}).get("baseUrl"):
            who = f"ModelConfig {o['metadata']['namespace']}/{o['metadata']['name']}"
            headers = {**(o["spec"].get("defaultHeaders") or {}), ":model": o["spec"]["model"]}
            out.append((who, o["spec"]["openAI"]["baseUrl"], headers))
        if o["kind"] == "Agent" and o["spec"].get("byo"):
            env = {e["name"]: e.get("value") for e in o["spec"]["byo"]["deployment"].get("env", [])}
            if env.get("KUBE_AGENT_LLM_URL"):
                headers = dict(h.split("=", 1) for h in (env.get("KUBE_AGENT_LLM_HEADERS") or "").split(",") if h)
                out.append((f"BYO agent {o['metadata']['name']}", env["KUBE_AGENT_LLM_URL"], headers))
    return out


def _admits(listener: dict[str, Any], route_ns: str, gateway_ns: str) -> bool:
    allowed = (listener.get("allowedRoutes") or {}).get("namespaces") or {"from": "Same"}
    if allowed["from"] == "All":
        return True
    if allowed["from"] == "Same":
        return route_ns == gateway_ns
    for expr in allowed["selector"].get("matchExpressions", []):
        if expr["key"] == "kubernetes.io/metadata.name" and expr["operator"] == "In":
            return route_ns in expr["values"]
    labels = allowed["selector"].get("matchLabels", {})
    return labels.get("kubernetes.io/metadata.name") == route_ns


def _host_matches(pattern: str | None, host: str) -> bool:
    if not pattern:
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return pattern == host


def resolve(objs: list[dict[str, Any]], url: str, headers: dict[str, str], path: str = "/v1/chat/completions") -> str:
    """'' when the request reaches a pod's serving port; otherwise where it dead-ends."""
    u = urlsplit(url)
    host, port = u.hostname or "", u.port or (443 if u.scheme == "https" else 80)
    gw_name, _, rest = host.partition(".")
    gw_ns = rest.split(".")[0]
    gateway = next(
        (
            o
            for o in objs
            if o["kind"] == "Gateway" and o["metadata"]["name"] == gw_name and o["metadata"].get("namespace") == gw_ns
        ),
        None,
    )
    if gateway is None:
        return f"no Gateway {gw_ns}/{gw_name} behind {host}"
    listeners = [
        lst for lst in gateway["spec"]["listeners"] if lst["port"] == port and _host_matches(lst.get("hostname"), host)
    ]
    if not listeners:
        served = [(lst["port"], lst.get("hostname", "*")) for lst in gateway["spec"]["listeners"]]
        return f"Host {host}:{port} matches no listener of {gw_ns}/{gw_name} (listeners: {served})"
    full_path = (u.path.rstrip("/") + path[3:]) if u.path.rstrip("/").endswith("/v1") else path
    headers = _pre_routing(objs, gateway, [lst["name"] for lst in listeners], headers)
    for route in (o for o in objs if o["kind"] == "HTTPRoute"):
        route_ns = route["metadata"].get("namespace", "default")
        refs = [
            r
            for r in route["spec"].get("parentRefs", [])
            if r["name"] == gw_name and r.get("namespace", route_ns) == gw_ns
        ]
        if not refs or not any(
            _admits(lst, route_ns, gw_ns) and all(r.get("sectionName", lst["name"]) == lst["name"] for r in refs)
            for lst in listeners
        ):
            continue
        if route["spec"].get("hostnames") and host not in route["spec"]["hostnames"]:
            continue
        for rule in route["spec"].get("rules", []):
            for match in rule.get("matches", [{}]):
                prefix = (match.get("path") or {}).get("value", "/")
                if not full_path.startswith(prefix):
                    continue
                if not all(headers.get(h["name"]) == h["value"] for h in match.get("headers", [])):
                    continue
                if not match.get("headers"):
                    continue  # the catch-all (unknown model -> 404) is not a model
                return _backend(objs, rule, route_ns)
    return f"no HTTPRoute attached to {gw_ns}/{gw_name} serves {host}{full_path} with {headers}"


BODY_MODEL = "string(json(request.body).model)"


def _pre_routing(
    objs: list[dict[str, Any]], gateway: dict[str, Any], listeners: list[str], headers: dict[str, str]
) -> dict[str, str]:
    """agentgateway's PreRouting policies on the gateway (or the listener): the headers they set from the body's
    ``model`` before routing."""
    out = dict(headers)
    for p in objs:
        if p["kind"] != "AgentgatewayPolicy" or p["metadata"].get("namespace") != gateway["metadata"]["namespace"]:
            continue
        traffic = p["spec"].get("traffic") or {}
        targets = [
            t
            for t in p["spec"].get("targetRefs", [])
            if t["kind"] == "Gateway"
            and t["name"] == gateway["metadata"]["name"]
            and t.get("sectionName", listeners[0]) in listeners
        ]
        if traffic.get("phase") != "PreRouting" or not targets:
            continue
        for h in ((traffic.get("transformation") or {}).get("request") or {}).get("set", []):
            if h["value"] == BODY_MODEL and ":model" in headers:
                out[h["name"]] = headers[":model"]
    return out


def _ai_backend(objs: list[dict[str, Any]], ref: dict[str, Any], ns: str) -> str:
    """An AgentgatewayBackend's first priority group: a provider outside the cluster answers by itself; a
    self-hosted one by its Service (as any backend) or its InferencePool (the pool's release selects the pods)."""
    backend = _find(objs, "AgentgatewayBackend", ref["name"], ns)
    if backend is None:
        return f"AgentgatewayBackend {ns}/{ref['name']} is not rendered"
    for provider in backend["spec"]["ai"]["groups"][0]["providers"]:
        target = (provider.get("custom") or {}).get("backendRef")
        if target is None:
            continue  # Bedrock, OpenAI, Anthropic: outside the cluster
        if target.get("kind", "Service") == "Service":
            why = _backend(objs, {"backendRefs": [{"name": target["name"], "port": target["port"]}]}, ns)
        else:
            releases = [r for r in objs if r.get("kind") == "InferencePool" and r["metadata"]["name"] == target["name"]]
            why = "" if releases else f"InferencePool {ns}/{target['name']} is not made by any release"
            if releases:
                svc = {"spec": {"selector": releases[0]["spec"]["selector"]["matchLabels"],
                                "ports": [{"port": 1, "targetPort": releases[0]["spec"]["targetPorts"][0]["number"]}]},
                       "kind": "Service", "metadata": {"name": f"pool:{target['name']}", "namespace": ns}}  # fmt: skip
                why = _backend([svc, *objs], {"backendRefs": [{"name": f"pool:{target['name']}", "port": 1}]}, ns)
        if why:
            return f"{ref['name']}: {why}"
    return ""


def _find(objs: list[dict[str, Any]], kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    return next(
        (
            o
            for o in objs
            if o["kind"] == kind and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
        ),
        None,
    )


def _backend(objs: list[dict[str, Any]], rule: dict[str, Any], route_ns: str) -> str:
    for ref in rule.get("backendRefs", []):
        ns = ref.get("namespace", route_ns)
        if ref.get("kind") == "AgentgatewayBackend":
            if why := _ai_backend(objs, ref, ns):
                return why
            continue
        if "flagger" in ref:  # Flagger's primary/canary Services run the target Deployment's pods
            dep = _find(objs, "Deployment", ref["name"], ns)
            if dep is None:
                return f"Flagger's target Deployment {ns}/{ref['name']} is not rendered"
            ports = [p for c in dep["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
            if not any(ref["flagger"] in (p.get("name"), p.get("containerPort")) for p in ports):
                return f"Flagger's Services target port {ref['flagger']}, which no container of {ref['name']} serves"
            continue
        svc = _find(objs, "Service", ref["name"], ns)
        if svc is None:
            return f"backend Service {ns}/{ref['name']} is not rendered"
        if ns != route_ns and not any(
            o["kind"] == "ReferenceGrant"
            and o["metadata"].get("namespace") == ns
            and any(f["namespace"] == route_ns and f["kind"] == "HTTPRoute" for f in o["spec"]["from"])
            for o in objs
        ):
            return f"no ReferenceGrant in {ns} lets routes from {route_ns} reach {ref['name']}"
        port = next((p for p in svc["spec"]["ports"] if p["port"] == ref["port"]), None)
        if port is None:
            return f"Service {ns}/{ref['name']} has no port {ref['port']}"
        selector = svc["spec"].get("selector") or {}
        pods = [
            o
            for o in objs
            if o["kind"] in ("Deployment", "StatefulSet")
            and o["metadata"].get("namespace") == ns
            and selector.items() <= (o["spec"]["template"]["metadata"].get("labels") or {}).items()
        ]
        if not pods:
            return f"Service {ns}/{ref['name']} selects no rendered workload"
        target = port.get("targetPort", port["port"])
        for w in pods:
            for c in w["spec"]["template"]["spec"]["containers"]:
                for cp in c.get("ports", []):
                    if target in (cp.get("name"), cp.get("containerPort")):
                        return ""
        return f"Service {ns}/{ref['name']} targets port {target}, which no container of its pods serves"
    return "" if rule.get("backendRefs") else "the matching rule has no backend"


@pytest.mark.parametrize("stack", PLANS)
def test_every_in_cluster_client_reaches_its_model(plans, stack):
    objs = _objects(plans, stack)
    clients = _clients([dict(r.inputs) for r in plans(stack).run.kubernetes_objects()])
    assert clients, "no client calls a model through the gateway"
    dead_ends = [
        f"{who} -> {url} {headers}: {why}" for who, url, headers in clients if (why := resolve(objs, url, headers))
    ]
    assert dead_ends == []


@pytest.mark.parametrize("stack", ["prod"])
def test_flaggers_routes_are_admitted_by_the_listeners(plans, stack):
    """Flagger writes a rolled-out model's HTTPRoute into the Canary's namespace with the Canary's hosts."""
    objs = _objects(plans, stack)
    canaries = [o for o in objs if o["kind"] == "Canary"]
    assert canaries, "prod rolls a model out with Flagger"
    for c in canaries:
        ns = c["metadata"]["namespace"]
        for ref in c["spec"]["service"]["gatewayRefs"]:
            gw = next(o for o in objs if o["kind"] == "Gateway" and o["metadata"]["name"] == ref["name"])
            hosts = c["spec"]["service"].get("hosts") or [None]
            for host in hosts:
                admitting = [
                    lst
                    for lst in gw["spec"]["listeners"]
                    if _admits(lst, ns, ref["namespace"]) and (host is None or _host_matches(lst.get("hostname"), host))
                ]
                assert admitting, f"no listener of {ref['name']} admits Flagger's route in {ns} for {host}"


def test_the_resolver_finds_a_dead_end(plans):
    """The journey can fail: a client calling by a host the listeners do not serve dead-ends at the listener."""
    objs = _objects(plans, "prod")
    why = resolve(objs, "http://ai-gateway.ai-gateway.svc.cluster.local:8080/v1", {"x-model-id": "llama-70b"})
    assert "matches no listener" in why
    why = resolve(objs, "http://ai-gateway.ai-gateway.svc.cluster.local/v1", {"x-model-id": "nope"})
    assert "no HTTPRoute" in why
    # through the AI gateway: the body's model picks the route; an unserved one dead-ends, a served one arrives
    ai = "http://llm-gateway.ai-gateway.svc.cluster.local:8080/v1"
    assert "no HTTPRoute" in resolve(objs, ai, {":model": "gpt-5"})
    assert resolve(objs, ai, {":model": "llama-8b"}) == ""
    assert "matches no listener" in resolve(objs, "http://llm-gateway.ai-gateway.svc.cluster.local/v1", {})


def _served_names(objs: list[dict[str, Any]], model_name: str) -> set[str]:
    """What the vLLM server of a platform model answers to: its --served-model-name values."""
    for o in objs:
        if o["kind"] != "Deployment":
            continue
        for c in o["spec"]["template"]["spec"]["containers"]:
            args = c.get("args") or []
            if "--served-model-name" in args and model_name in args:
                i = args.index("--served-model-name") + 1
                names = set()
                while i < len(args) and not args[i].startswith("--"):
                    names.add(args[i])
                    i += 1
                if model_name in names:
                    return names
    return set()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_client_names_a_model_its_server_answers_to(plans, stack):
    """vLLM answers 404 for a model name it does not serve: the names clients send must be served names."""
    cfg = plans(stack).config
    objs = _objects(plans, stack)
    by_header = {m.header_value: m for m in cfg.models}
    wrong = []
    for o in objs:
        if o["kind"] == "ModelConfig" and (o["spec"].get("openAI") or {}).get("defaultHeaders"):
            m = by_header[o["spec"]["defaultHeaders"][cfg.gateway.model_header]]
            if m.engine == "vllm" and o["spec"]["model"] not in _served_names(objs, m.name):
                wrong.append(f"ModelConfig {o['metadata']['name']} sends model {o['spec']['model']}")
        if o["kind"] == "AgentgatewayBackend" and o["spec"].get("ai"):  # the AI gateway's self-hosted providers
            for g in o["spec"]["ai"]["groups"]:
                for p in g["providers"]:
                    ref = (p.get("custom") or {}).get("backendRef")
                    if ref is None:
                        continue
                    [m] = [m for m in cfg.models for v in m.variants if f"{m.name}-{v.name}" == ref["name"]]
                    if m.engine == "vllm" and p["custom"]["model"] not in _served_names(objs, m.name):
                        wrong.append(f"AgentgatewayBackend {o['metadata']['name']} sends {p['custom']['model']}")
        if o["kind"] == "Agent" and o["spec"].get("byo"):
            env = {e["name"]: e.get("value") for e in o["spec"]["byo"]["deployment"].get("env", [])}
            for url, model, headers in (
                ("KUBE_AGENT_LLM_URL", "KUBE_AGENT_LLM_MODEL", "KUBE_AGENT_LLM_HEADERS"),
                ("AGENT_EMBEDDINGS_URL", "AGENT_EMBEDDINGS_MODEL", "AGENT_EMBEDDINGS_HEADERS"),
            ):
                if env.get(url):
                    m = by_header[env[headers].split("=", 1)[1]]
                    if env[model] not in _served_names(objs, m.name):
                        wrong.append(f"agent {o['metadata']['name']} sends {model}={env[model]}")
    assert wrong == []


def _kb_dims(objs: list[dict[str, Any]]) -> set[int]:
    dims = set()
    for o in objs:
        if o["kind"] == "Job" and o["metadata"]["name"].startswith("kb-init"):
            args = o["spec"]["template"]["spec"]["containers"][0]["args"]
            dims.add(int(args[args.index("--dim") + 1]))
    return dims


@pytest.mark.parametrize("stack", ["dev", "prod", "tenant-demo"])
def test_knowledge_base_agents_embed_like_the_collection(plans, stack):
    """An agent's KB search embeds with the model and dimension of the collection kb-init created, and (platform
    provider) its embedding request reaches a served embedding model of that dimension through the gateway."""
    objs = _objects(plans, stack)
    platform = plans("dev" if stack.startswith("tenant-") else stack).config
    dims = _kb_dims(objs)
    kb_agents = [
        o
        for o in (dict(r.inputs) for r in plans(stack).run.kubernetes_objects())
        if o["kind"] == "Agent"
        and o["spec"].get("byo")
        and any(
            (f.get("secretRef") or {}).get("name") == "milvus-connection"
            for f in o["spec"]["byo"]["deployment"].get("envFrom", [])
        )
    ]
    if stack != "tenant-demo":
        assert kb_agents, "no agent uses the knowledge base"
    for a in kb_agents:
        env = {e["name"]: e.get("value") for e in a["spec"]["byo"]["deployment"].get("env", [])}
        assert env.get("AGENT_EMBEDDINGS_DIM"), f"{a['metadata']['name']}: no embedding settings"
        assert dims == {int(env["AGENT_EMBEDDINGS_DIM"])}, (a["metadata"]["name"], dims, env["AGENT_EMBEDDINGS_DIM"])
        if env["AGENT_EMBEDDINGS_PROVIDER"] == "openai":
            headers = dict([env["AGENT_EMBEDDINGS_HEADERS"].split("=", 1)])
            assert resolve(objs, env["AGENT_EMBEDDINGS_URL"], headers, "/v1/embeddings") == ""
            served = next(m for m in platform.models if m.header_value == headers[platform.gateway.model_header])
            assert served.embedding_dim == int(env["AGENT_EMBEDDINGS_DIM"])
