"""Issue #10: kagent 0.10 and agents from config, point by point, with bad input and the agent policies."""

from __future__ import annotations

import copy
import json

import pytest

from components.agents.agents import people_rbac
from components.agents.kagent import DEMO_SUBCHARTS, kagent_values
from components.agents.kagent_v0_10 import APPROVAL_WAIVED, Context, PlatformModel, translate
from components.agents.tools_server import RULES
from config import ConfigError, parse_platform
from config.agents import KagentConfig
from policies import agents as agent_policies
from policies.rules import Resource, evaluate
from tests.conftest import build_stack, stack_raw, validate_object
from tests.helm_values import chart_defaults, unknown_keys

AGENT = "kubernetes:kagent.dev/v1alpha2:Agent"
RELEASE = "kubernetes:helm.sh/v3:Release"


def objects(run, kind: str, namespace: str | None = None) -> dict[str, dict]:
    return {
        r.inputs["metadata"]["name"]: r.inputs
        for r in run.registrations
        if r.inputs.get("kind") == kind and (namespace is None or r.inputs["metadata"].get("namespace") == namespace)
    }


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as exc:
        parse_platform(raw)
    return {p.path: p.message for p in exc.value.problems}


# --- 1. install ----------------------------------------------------------------------------------------------------


def test_kagent_values_are_chart_keys_with_demos_off():
    values = kagent_values(
        KagentConfig(),
        ha=True,
        watch=["ai-agents", "tenant-a"],
        rds=True,
        otel_endpoint="http://otel:4317",
        vector=False,
    ).render()
    assert unknown_keys(values, chart_defaults("kagent")) == []
    assert all(values[chart] == {"enabled": False} for chart in DEMO_SUBCHARTS)
    assert "providers" in values and values["providers"] is None  # no default ModelConfig from the chart
    c = values["controller"]
    assert c["replicas"] == 2 and c["pdb"] == {"enabled": True} and c["watchNamespaces"] == ["ai-agents", "tenant-a"]
    assert values["database"]["postgres"]["bundled"] == {"enabled": False}
    assert values["database"]["postgres"]["urlFile"] == "/etc/kagent-database/url"
    assert "url" not in values["database"]["postgres"]  # never the URL itself
    assert values["otel"]["tracing"]["exporter"]["otlp"]["endpoint"] == "http://otel:4317"
    dev = kagent_values(
        KagentConfig(), ha=False, watch=["ai-agents"], rds=False, otel_endpoint=None, vector=False
    ).render()
    assert dev["controller"]["replicas"] == 1 and dev["controller"]["pdb"] == {"enabled": False}
    assert dev["database"]["postgres"]["bundled"] == {"enabled": True, "storageClassName": "gp3"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_kagent_release_watches_agents_and_every_tenant(plans, stack):
    run = plans(stack).run
    release = run.get(RELEASE, f"agentic-{stack}-kagent-controller")
    crds = run.get(RELEASE, f"agentic-{stack}-kagent-crds")
    assert release.inputs["version"] == crds.inputs["version"] == "0.10.4"
    assert release.inputs["namespace"] == "ai-agents"
    tenants = [t.namespace for t in plans(stack).config.tenants]
    assert release.inputs["values"]["controller"]["watchNamespaces"] == sorted(["ai-agents", *tenants])
    assert crds.urn in release.dependencies
    monitors = objects(run, "ServiceMonitor", "ai-agents")
    assert monitors["kagent-controller"]["spec"]["endpoints"][0]["port"] == "http-metrics"


def test_prod_database_is_rds_private_encrypted_backed_up_and_never_plaintext(plans):
    run = plans("prod").run
    [db] = [r for r in run.of_type("aws:rds/instance:Instance") if r.inputs["dbName"] == "kagent"]
    d = db.inputs
    assert d["engine"] == "postgres" and d["storageEncrypted"] and d["kmsKeyId"].startswith("arn:aws:kms:")
    assert d["deletionProtection"] and d["backupRetentionPeriod"] == 14 and d["multiAz"]
    assert d["manageMasterUserPassword"] and "password" not in d and not d["publiclyAccessible"]
    rule = run.get("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "agentic-prod-kagent-db-from-nodes")
    assert rule.inputs["fromPort"] == 5432 and rule.inputs["referencedSecurityGroupId"]
    es = objects(run, "ExternalSecret", "ai-agents")["kagent-database"]
    [data] = es["spec"]["data"]
    assert data["remoteRef"] == {"key": db.outputs["masterUserSecrets"][0]["secretArn"], "property": "password"}
    url = es["spec"]["target"]["template"]["data"]["url"]
    assert url.startswith("postgres://kagent:{{ .password | urlquery }}@") and url.endswith("sslmode=require")
    eso = json.loads(run.get("aws:iam/rolePolicy:RolePolicy", "agentic-prod-kagent-db-eso-secret").inputs["policy"])
    assert eso["Statement"][0]["Resource"] == data["remoteRef"]["key"]  # exactly that secret, nothing else
    assert not plans("dev").run.of_type("aws:rds/instance:Instance")


# --- 2. model configs ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def direct_bedrock():
    """prod without the AI gateway, support-agent's model config calling Bedrock itself (its own Pod Identity role
    and public HTTPS): what a stack without gateway.ai does."""
    raw = copy.deepcopy(stack_raw("prod"))
    raw["gateway"]["ai"].update(enabled=False, mcp=[], a2a=[])
    for m in raw["models"]:
        m.pop("routing", None)
        m.pop("endpoint_picker", None)
    [mc] = [mc for mc in raw["kagent"]["model_configs"] if mc["name"] == "claude-bedrock"]
    mc.clear()
    mc.update(
        name="claude-bedrock",
        provider="Bedrock",
        model="anthropic.claude-sonnet-4-20250514-v1:0",
        bedrock_region="us-east-1",
    )
    return build_stack(raw, "prod")


def test_model_configs_platform_bedrock_and_keyed_providers(plans, direct_bedrock):
    dev = objects(plans("dev").run, "ModelConfig", "ai-agents")["llama-8b"]["spec"]
    assert (
        dev["provider"] == "OpenAI" and dev["openAI"]["baseUrl"] == "http://ai-gateway.ai-gateway.svc.cluster.local/v1"
    )
    assert dev["defaultHeaders"] == {"x-model-id": "llama-8b"} and dev["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    prod = plans("prod").run
    bedrock = objects(direct_bedrock, "ModelConfig", "tenant-support")["claude-bedrock"]["spec"]
    assert bedrock["bedrock"] == {"region": "us-east-1"} and "apiKeySecret" not in bedrock
    # with the AI gateway on (prod), the same model is the gateway's, with the model config's own key
    via = objects(prod, "ModelConfig", "tenant-support")["claude-bedrock"]["spec"]
    assert via["openAI"]["baseUrl"] == "http://llm-gateway.ai-gateway.svc.cluster.local:8080/v1"
    assert via["apiKeySecret"] == "ai-key-model-config-claude-bedrock" and "bedrock" not in via
    llama = objects(prod, "ModelConfig", "ai-agents")["llama-70b"]["spec"]
    assert (llama["apiKeySecret"], llama["apiKeySecretKey"]) == ("gateway-token", "token")
    assert "gateway-token" in objects(prod, "ExternalSecret", "ai-agents")
    k = KagentConfig.model_validate(
        {
            "model_configs": [
                {"name": "gpt", "provider": "OpenAI", "model": "gpt-4o", "api_key": {"name": "openai", "key": "k"}},
                {"name": "claude", "provider": "Anthropic", "model": "claude", "api_key": {"name": "anthropic"}},
                {
                    "name": "azure",
                    "provider": "AzureOpenAI",
                    "model": "gpt",
                    "api_key": {"name": "az"},
                    "azure_endpoint": "https://x.openai.azure.com",
                    "azure_api_version": "2024-10-21",
                },
            ]
        }
    )
    ctx = Context("ai-agents", None, "x-model-id", {})
    made = {o["metadata"]["name"]: o for o in translate(k, ctx)}
    for _name, obj in made.items():
        validate_object(obj, "1.35")
        assert obj["spec"]["apiKeySecret"] and obj["spec"]["apiKeySecretKey"]
    assert made["azure"]["spec"]["azureOpenAI"] == {
        "azureEndpoint": "https://x.openai.azure.com",
        "apiVersion": "2024-10-21",
    }


# --- 3. MCP servers ------------------------------------------------------------------------------------------------


def test_platform_tool_server_deployment_role_and_remote_server(plans):
    run = plans("dev").run
    remote = objects(run, "RemoteMCPServer", "ai-agents")["kube-tools"]["spec"]
    assert remote["url"] == "http://kube-agent-mcp.ai-agents.svc.cluster.local:8080/mcp"
    assert remote["protocol"] == "STREAMABLE_HTTP"
    assert objects(run, "Service", "ai-agents")["kube-agent-mcp"]["spec"]["ports"][0]["port"] == 8080
    dep = objects(run, "Deployment", "ai-agents")["kube-agent-mcp"]
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "kube-agent-mcp"
    env = {e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AGENT_TOOLS"].split(",") == plans("dev").config.kagent.mcp_servers[0].tools
    roles = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs
        for r in run.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
    }
    scoped = sorted(ns for ns, name in roles if name == "kube-agent-mcp-tools")
    assert scoped == ["ai-agents", "ai-inference", "tenant-sandbox"]  # exactly config's namespaces
    rules = roles[("ai-inference", "kube-agent-mcp-tools")]["rules"]
    assert not any("secrets" in r["resources"] for r in rules)
    assert {"pods/log", "events", "services", "configmaps"} <= {x for r in rules for x in r["resources"]}
    assert any(r["resources"] == ["deployments"] and "patch" in r["verbs"] for r in rules)
    assert not run.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")  # namespace-scoped only
    assert rules == RULES


def test_kmcp_servers_and_secret_tool_refused():
    raw = stack_raw("dev")
    raw["kagent"]["mcp_servers"].append(
        {"name": "search", "kind": "kmcp", "image": "ghcr.io/example/mcp:1.2.0", "port": 3001}
    )
    raw["kagent"]["agents"][0]["tools"].append({"mcp_server": "search"})
    run = build_stack(raw)
    server = objects(run, "MCPServer", "ai-agents")["search"]
    validate_object(server, "1.35")
    assert server["spec"]["deployment"] == {"image": "ghcr.io/example/mcp:1.2.0", "port": 3001}
    tools = objects(run, "Agent", "ai-agents")["k8s-assistant"]["spec"]["declarative"]["tools"]
    assert {
        "type": "McpServer",
        "mcpServer": {"name": "search", "apiGroup": "kagent.dev", "kind": "MCPServer"},
    } in tools
    raw = stack_raw("dev")
    raw["kagent"]["mcp_servers"][0]["tools"].append("k8s_list_secrets")
    assert "returns their data" in problems(raw)["platform.kagent.mcp_servers[0].tools"]


# --- 4. declarative agents: approval by default, waivers listed ------------------------------------------------------


def test_destructive_tools_require_approval_unless_waived(plans):
    run = plans("dev").run
    k8s = objects(run, "Agent", "ai-agents")["k8s-assistant"]["spec"]["declarative"]
    assert k8s["systemMessage"].startswith("You are a careful") and k8s["modelConfig"] == "llama-8b"
    [tool] = k8s["tools"]
    # config names no require_approval: the destructive restart needs approval anyway
    assert tool["mcpServer"]["requireApproval"] == ["k8s_restart_deployment"]
    assert k8s["a2aConfig"]["skills"][0]["id"] == "inspect-workloads"
    raw = stack_raw("dev")
    raw["kagent"]["agents"][0]["tools"][0]["waive_approval"] = ["k8s_restart_deployment"]
    waived = build_stack(raw)
    agent = objects(waived, "Agent", "ai-agents")["k8s-assistant"]
    assert "requireApproval" not in agent["spec"]["declarative"]["tools"][0]["mcpServer"]
    assert agent["metadata"]["annotations"][APPROVAL_WAIVED] == "k8s_restart_deployment"
    assert any("without approval" in n and "k8s_restart_deployment" in n for n in waived.outputs["plan_notes"])


# --- 5. BYO agents and scaling -------------------------------------------------------------------------------------


def test_byo_agent_container_and_scaling(plans):
    dev = plans("dev").run
    byo = objects(dev, "Agent", "ai-agents")["kube-agent"]["spec"]["byo"]["deployment"]
    image = dev.outputs["agent_runtime_image"]
    assert byo["image"] == image and "@sha256:" in image
    assert "replicas" not in byo  # a ScaledObject owns it
    assert byo["envFrom"] == [{"secretRef": {"name": "redis-connection"}}, {"secretRef": {"name": "milvus-connection"}}]
    scaled = objects(dev, "ScaledObject", "ai-agents")["kube-agent"]["spec"]
    assert scaled["scaleTargetRef"] == {"name": "kube-agent"}
    assert (
        'agent_active_sessions{namespace="ai-agents", agent_name="kube-agent"}'
        in scaled["triggers"][0]["metadata"]["query"]
    )
    prod = plans("prod").run
    pbyo = objects(prod, "Agent", "ai-agents")["kube-agent"]["spec"]["byo"]["deployment"]
    key = next(e for e in pbyo["env"] if e["name"] == "KUBE_AGENT_LLM_API_KEY")
    assert key["valueFrom"] == {"secretKeyRef": {"name": "gateway-token", "key": "token"}}
    hpa = objects(prod, "HorizontalPodAutoscaler", "ai-agents")["kube-agent"]["spec"]
    assert [m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]] == [70, 80]
    assert hpa["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    sre = objects(prod, "HorizontalPodAutoscaler", "ai-agents")["sre-assistant"]["spec"]
    assert sre["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sre-assistant"}


def test_redis_list_scaling_with_trigger_authentication():
    raw = stack_raw("prod")
    byo = next(a for a in raw["kagent"]["agents"] if a["type"] == "BYO")
    byo["scaling"] = {"kind": "keda-redis", "list_name": "agent:jobs", "list_length": 4, "max_replicas": 8}
    run = build_stack(raw)
    auth = objects(run, "TriggerAuthentication", "ai-agents")["kube-agent-redis"]["spec"]["secretTargetRef"]
    assert {(a["parameter"], a["key"]) for a in auth} == {
        ("address", "REDIS_ADDRESS"),
        ("username", "REDIS_USERNAME"),
        ("password", "REDIS_PASSWORD"),
    }  # the agents' own Redis user, which sees its key prefix only: so does the list KEDA reads
    trigger = objects(run, "ScaledObject", "ai-agents")["kube-agent"]["spec"]["triggers"][0]
    assert trigger["metadata"] == {"listName": "t:platform:agent:jobs", "listLength": "4", "enableTLS": "true"}


# --- 6. multi-agent ------------------------------------------------------------------------------------------------


def test_seed_pipeline_as_agents_as_tools(plans):
    agents = objects(plans("dev").run, "Agent", "ai-agents")
    tools = agents["research-report"]["spec"]["declarative"]["tools"]
    assert [t["agent"]["name"] for t in tools] == ["research-agent", "analysis-agent", "writer-agent", "reviewer-agent"]
    support = objects(plans("prod").run, "Agent", "tenant-support")["support-agent"]["spec"]
    assert support["declarative"]["tools"] == [
        {"type": "Agent", "agent": {"name": "sre-assistant", "namespace": "ai-agents"}}
    ]
    sre = objects(plans("prod").run, "Agent", "ai-agents")["sre-assistant"]["spec"]
    assert sre["allowedNamespaces"]["from"] == "Selector"  # tenant-support may call it
    assert sre["allowedNamespaces"]["selector"]["matchExpressions"][0]["values"] == ["tenant-support"]


# --- 7. identity ---------------------------------------------------------------------------------------------------


def test_service_account_per_agent_and_bedrock_role(plans, direct_bedrock):
    run = direct_bedrock
    for ns, agents in (("ai-agents", ["sre-assistant", "kube-agent"]), ("tenant-support", ["support-agent"])):
        accounts = objects(run, "ServiceAccount", ns)
        for a in agents:
            assert f"agent-{a}" in accounts
            spec = objects(run, "Agent", ns)[a]["spec"]
            dep = (spec.get("declarative") or spec.get("byo"))["deployment"]
            assert dep["serviceAccountName"] == f"agent-{a}"
    assoc = [
        a.inputs
        for a in run.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if a.inputs["serviceAccount"].startswith("agent-")
    ]
    assert [(a["namespace"], a["serviceAccount"]) for a in assoc] == [("tenant-support", "agent-support-agent")]
    policy = json.loads(
        run.get("aws:iam/rolePolicy:RolePolicy", "agentic-prod-agents-support-agent-policy").inputs["policy"]
    )
    [st] = policy["Statement"]
    assert st["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    assert st["Resource"][0] == "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0"


# --- 8. RBAC for people --------------------------------------------------------------------------------------------


def test_people_rbac_and_access_entries(plans):
    rules = {o["metadata"]["name"]: o for o in people_rbac("ai-agents") if o["kind"] == "Role"}
    op = rules["agent-operator"]["rules"]
    assert {"agents", "modelconfigs", "remotemcpservers", "mcpservers"} <= set(op[0]["resources"])
    assert "delete" in op[0]["verbs"] and "pods/log" in op[1]["resources"]
    assert all("secrets" not in r["resources"] for o in ("agent-operator", "agent-viewer") for r in rules[o]["rules"])
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in rules["agent-viewer"]["rules"])
    run = plans("dev").run
    entries = {
        e.inputs["principalArn"]: e.inputs
        for e in run.of_type("aws:eks/accessEntry:AccessEntry")
        if e.inputs.get("type") == "STANDARD" and e.inputs.get("kubernetesGroups")
    }
    assert entries["arn:aws:iam::111122223333:role/agent-operators"]["kubernetesGroups"] == ["agentic:agent-operators"]
    assert entries["arn:aws:iam::111122223333:role/developers"]["kubernetesGroups"] == ["agentic:agent-viewers"]
    binding = objects(run, "RoleBinding", "ai-agents")["agent-operator"]
    assert binding["subjects"] == [
        {"kind": "Group", "name": "agentic:agent-operators", "apiGroup": "rbac.authorization.k8s.io"}
    ]


# --- 9. routes -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_routes_to_exposed_agents_behind_the_gateway(plans, stack):
    run = plans(stack).run
    routes = objects(run, "HTTPRoute", "ai-gateway")
    exposed = [a for a in plans(stack).config.kagent.agents if a.expose]
    for a in exposed:
        rule = routes[f"agent-{a.name}"]["spec"]["rules"][0]
        assert rule["matches"][0]["path"] == {"type": "PathPrefix", "value": f"/agents/{a.name}"}
        assert rule["backendRefs"] == [{"name": a.name, "namespace": a.namespace or "ai-agents", "port": 8080}]
    grants = [
        g.inputs
        for g in run.of_type("kubernetes:gateway.networking.k8s.io/v1beta1:ReferenceGrant")
        if g.inputs["metadata"]["name"] == "gateway-to-agents"
    ]
    assert sorted(t["name"] for g in grants for t in g["spec"]["to"]) == sorted(a.name for a in exposed)
    if stack == "prod":  # JWT at the gateway covers every route on it, the agents' included
        policy = objects(run, "TrafficPolicy", "ai-gateway")["ai-gateway-jwt"]["spec"]
        assert policy["targetRefs"][0]["kind"] == "Gateway"


# --- 10. policies --------------------------------------------------------------------------------------------------


POLICIES = {
    "agent-references-resolve",
    "byo-images-from-platform-ecr",
    "destructive-tools-need-approval",
    "agents-cannot-read-secrets",
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_agent_policies_pass_on_committed_stacks(plans, stack):
    assert [f for f in plans(stack).findings if f.policy in POLICIES] == []


def _resources(plan):
    return [Resource(r.type, r.name, copy.deepcopy(r.inputs)) for r in plan.run.registrations]


def test_policy_references_must_resolve(plans):
    res = _resources(plans("dev"))
    assert agent_policies.check_agent_references(res) == []
    dropped = [r for r in res if not (r.type.endswith(":ModelConfig"))]
    assert any("ModelConfig ai-agents/llama-8b" in m for _, m in agent_policies.check_agent_references(dropped))
    no_tools = [r for r in res if not r.type.endswith(":RemoteMCPServer")]
    assert any("RemoteMCPServer ai-agents/kube-tools" in m for _, m in agent_policies.check_agent_references(no_tools))


def test_policy_byo_images_from_platform_ecr_by_digest(plans):
    res = _resources(plans("dev"))
    assert agent_policies.check_byo_images(res) == []
    for r in res:
        if r.type == AGENT and r.props["spec"]["type"] == "BYO":
            image = r.props["spec"]["byo"]["deployment"]["image"]
            r.props["spec"]["byo"]["deployment"]["image"] = image.split("@")[0]
    assert any("pinned by digest" in m for _, m in agent_policies.check_byo_images(res))
    other = [
        Resource(
            AGENT,
            "a",
            {
                "metadata": {"name": "a", "namespace": "x"},
                "spec": {
                    "type": "BYO",
                    "byo": {
                        "deployment": {
                            "image": "999999999999.dkr.ecr.us-west-2.amazonaws.com/elsewhere@sha256:" + "a" * 64
                        }
                    },
                },
            },
        )
    ]
    assert any("not one of this platform's ECR" in m for _, m in agent_policies.check_byo_images(other))


def test_policy_destructive_tools_need_approval(plans):
    agent = objects(plans("dev").run, "Agent", "ai-agents")["k8s-assistant"]
    assert agent_policies.check_tool_approval(AGENT, agent) == []
    bad = copy.deepcopy(agent)
    bad["spec"]["declarative"]["tools"][0]["mcpServer"].pop("requireApproval")
    assert any("k8s_restart_deployment" in m for m in agent_policies.check_tool_approval(AGENT, bad))
    bad["metadata"]["annotations"] = {APPROVAL_WAIVED: "k8s_restart_deployment"}
    assert agent_policies.check_tool_approval(AGENT, bad) == []


def test_policy_agents_cannot_read_secrets(plans):
    res = _resources(plans("dev"))
    assert agent_policies.check_agent_secret_access(res) == []
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "peek", "namespace": "ai-agents"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "peek", "namespace": "ai-agents"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "peek"},
        "subjects": [{"kind": "ServiceAccount", "name": "agent-kube-agent", "namespace": "ai-agents"}],
    }
    res += [
        Resource("kubernetes:rbac.authorization.k8s.io/v1:Role", "peek", role),
        Resource("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "peek-b", binding),
    ]
    assert [n for n, _ in agent_policies.check_agent_secret_access(res)] == ["peek-b"]
    assert any(f.policy == "agents-cannot-read-secrets" for f in evaluate(res))


# --- bad input -----------------------------------------------------------------------------------------------------


def test_bad_agent_config_is_rejected_with_path_and_fix():
    raw = stack_raw("dev")
    agents = raw["kagent"]["agents"]
    agents[0]["model_config"] = "llama-9b"
    agents[0]["tools"] = [{"mcp_server": "kube-tool"}, {"mcp_server": "kube-tools", "tool_names": ["k8s_exec"]}]
    byo = next(a for a in agents if a["type"] == "BYO")
    byo["replicas"] = 2
    raw["kagent"]["model_configs"].append({"name": "claude", "provider": "Bedrock", "model": "anthropic.claude"})
    found = problems(raw)
    assert "did you mean 'llama-8b'" in found["platform.kagent.agents[0].model_config"]
    assert "kube-tools" in found["platform.kagent.agents[0].tools[0].mcp_server"]
    assert "['k8s_exec'] are not tools of 'kube-tools'" in found["platform.kagent.agents[0].tools[1].tool_names"]
    assert "either replicas or scaling" in found[f"platform.kagent.agents[{agents.index(byo)}].replicas"]
    assert "need a region" in found["platform.kagent.model_configs[1].bedrock_region"]


def test_cycles_and_unknown_agents_rejected():
    raw = stack_raw("dev")
    agents = {a["name"]: a for a in raw["kagent"]["agents"]}
    agents["writer-agent"]["tools"] = [{"agent": "research-report"}]
    agents["analysis-agent"]["tools"] = [{"agent": "nobody"}]
    found = problems(raw)
    cycle = next(m for p, m in found.items() if "cycle" in m)
    assert "research-report -> writer-agent -> research-report" in cycle
    idx = list(agents).index("analysis-agent")
    assert (
        "unknown agent 'nobody'" in found[f"platform.kagent.agents[{idx}].tools[0].agent"]
        or "nobody" in found[f"platform.kagent.agents[{idx}].tools[0].agent"]
    )


def test_literal_api_key_rejected():
    raw = stack_raw("dev")
    raw["kagent"]["model_configs"].append(
        {"name": "gpt", "provider": "OpenAI", "model": "gpt-4o", "api_key": "sk-live-123"}
    )
    assert "literal secret value" in problems(raw)["platform.kagent.model_configs[1].api_key"]


def test_nothing_registered_for_bad_config(tmp_path):
    """The program refuses before registering anything: the plan shows the problem, no resources."""
    from agentic.plan.engine import run_program
    from config.loader import FULL_KEY, PROJECT

    raw = stack_raw("dev")
    raw["kagent"]["agents"][0]["model_config"] = "nope"

    def program():
        import program as p

        p.main()

    with pytest.raises(Exception):
        run_program(program, project=PROJECT, stack="dev", config={FULL_KEY: raw}, region="us-west-2")


def test_translator_is_selected_by_line():
    from components.agents.agents import TRANSLATORS

    assert set(TRANSLATORS) == {"0.10"}
    with pytest.raises(ConfigError):
        raw = stack_raw("dev")
        raw["kagent"]["line"] = "1.0"
        parse_platform(raw)
    ctx = Context("ai-agents", "http://gw", "x-model-id", {"m": PlatformModel("org/m", "m")})
    k = KagentConfig.model_validate(
        {"model_configs": [{"name": "m", "provider": "OpenAI", "model": "x", "platform_model": "m"}]}
    )
    assert TRANSLATORS["0.10"](k, ctx)[0]["apiVersion"] == "kagent.dev/v1alpha2"


def test_access_principals_are_not_cluster_admins_twice():
    raw = stack_raw("dev")
    raw["kagent"]["access"].append({"principal_arn": raw["cluster"]["admins"][0]["principal_arn"]})
    assert "already a cluster admin" in problems(raw)["platform.kagent.access[2].principal_arn"]


def test_plan_lists_agents_with_approval_scaling_identity_and_route(plans):
    from agentic.plan.tables import agent_lines, agent_rows

    rows = {r["agent"]: r for r in agent_rows(plans("prod"))}
    assert rows["kube-agent"]["scaling"] == "HPA" and rows["kube-agent"]["route"] == "/agents/kube-agent"
    assert "k8s_restart_deployment (approval)" in rows["sre-assistant"]["tools"]
    # support-agent calls Bedrock through the AI gateway: no AWS identity of its own
    assert rows["support-agent"]["aws"] == "-" and rows["support-agent"]["tools"] == ["agent:sre-assistant"]
    dev = {r["agent"]: r for r in agent_rows(plans("dev"))}
    assert dev["kube-agent"]["scaling"] == "KEDA" and dev["research-report"]["tools"][0] == "agent:research-agent"
    assert agent_lines(plans("dev"))[0] == "## Agents (kagent.dev/v1alpha2)"


def test_byo_agents_on_the_platform_image_get_seed_003s_role_without_secrets(plans):
    """Seed 003 §4.4: read pods, logs, events, services, configmaps, deployments; update/patch deployments and their
    scale, in the agent's own namespace. 'list' on Secrets returns their data, so it is not granted by default."""
    objs = [r.inputs for r in plans("dev").run.kubernetes_objects()]
    role = next(o for o in objs if o["kind"] == "Role" and o["metadata"]["name"] == "agent-kube-agent-kube-tools")
    binding = next(
        o for o in objs if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "agent-kube-agent-kube-tools"
    )
    assert role["metadata"]["namespace"] == "ai-agents"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "agent-kube-agent", "namespace": "ai-agents"}]
    assert not any("secrets" in r["resources"] for r in role["rules"])
    assert {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "update", "patch"]} in role[
        "rules"
    ]


def test_kubernetes_tools_options_are_byo_options():
    raw = stack_raw("dev")
    agent = next(a for a in raw["kagent"]["agents"] if a["name"] == "k8s-assistant")
    agent["kubernetes_tools"] = True
    byo = next(a for a in raw["kagent"]["agents"] if a["name"] == "kube-agent")
    byo["kubernetes_tools"] = False
    byo["kubernetes_secrets_list"] = True
    found = problems(raw)
    assert (
        "a Declarative agent's tools come from its MCP servers" in found["platform.kagent.agents[0].kubernetes_tools"]
    )
    i = raw["kagent"]["agents"].index(byo)
    assert found[f"platform.kagent.agents[{i}].kubernetes_secrets_list"] == "needs kubernetes_tools: true"


def test_kubernetes_secrets_list_is_granted_only_when_asked():
    from components.agents.agents import kube_tools_rbac
    from config.agents import Agent

    agent = Agent.model_validate({"name": "kube-agent", "type": "BYO", "kubernetes_secrets_list": True})
    role = kube_tools_rbac(agent, "ai-agents")[0]
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]} in role["rules"]
    assert kube_tools_rbac(Agent.model_validate({"name": "x", "type": "BYO", "kubernetes_tools": False}), "n") == []


PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


def test_a_byo_agents_gitea_is_wired_through_secrets_manager(plans):
    raw = stack_raw("dev")
    byo = next(a for a in raw["kagent"]["agents"] if a["name"] == "kube-agent")
    byo["gitea"] = {
        "url": "https://gitea.example.com",
        "token": {"name": "gitea-token", "key": "token", "source": "external"},
    }
    run = build_stack(raw, "dev")
    agent = objects(run, "Agent")["kube-agent"]
    env = {e["name"]: e for e in agent["spec"]["byo"]["deployment"]["env"]}
    assert env["KUBE_AGENT_GITEA_URL"]["value"] == "https://gitea.example.com"
    assert env["KUBE_AGENT_GITEA_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "gitea-token", "key": "token"}}
    synced = objects(run, "ExternalSecret", "ai-agents")
    assert "gitea-token" in synced
    # without it, the plan says the Gitea tools are not usable
    notes = plans("dev").run.outputs.get("plan_notes") or []
    assert any("agent kube-agent: its Gitea tools (seed 003 §7) are not usable" in n for n in notes)
    assert not any("Gitea tools" in n for n in run.outputs.get("plan_notes") or [])
    # and its pods may reach that Gitea (outside the cluster), nothing else outside
    egress = objects(run, "NetworkPolicy", "ai-agents")["agent-kube-agent-egress"]["spec"]["egress"]
    assert egress == [
        {
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [*PRIVATE, "169.254.0.0/16"]}}],
            "ports": [{"protocol": "TCP", "port": 443}],
        }
    ]
