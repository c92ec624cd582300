"""The tools the platform's agent runtime serves over MCP (``agent-runtime mcp``), and which of them change things.

Config validates tool names of the platform's own MCP server against this table, and destructive tools require
approval unless config waives it. ``tests/contract`` checks the table against the runtime's registry."""

from __future__ import annotations

#: tool name -> destructive (changes state: restart, scale, delete, write, push)
RUNTIME_MCP_TOOLS: dict[str, bool] = {
    "k8s_list_pods": False,
    "k8s_get_pod": False,
    "k8s_get_pod_logs": False,
    "k8s_list_deployments": False,
    "k8s_get_deployment": False,
    "k8s_restart_deployment": True,
    "k8s_scale_deployment": True,
    "k8s_list_services": False,
    "k8s_list_configmaps": False,
    "k8s_get_configmap": False,
    "k8s_list_secrets": False,
    "k8s_get_events": False,
    "gitea_list_repos": False,
    "gitea_get_repo": False,
    "gitea_create_repo": False,
    "gitea_delete_repo": True,
    "gitea_list_branches": False,
    "gitea_list_users": False,
    "gitea_create_webhook": False,
    "gitea_list_webhooks": False,
    "gitea_clone_repo": False,
    "gitea_git_pull": False,
    "gitea_git_status": False,
    "gitea_commit_and_push": True,
    "file_list": False,
    "file_read": False,
    "file_write": True,
    "search_knowledge_base": False,
}
#: Tools a Kubernetes Role cannot safely back: listing Secrets needs 'list', which returns their data too.
RBAC_UNSAFE_TOOLS = {"k8s_list_secrets"}
#: Words that mark a tool of a server the platform does not know as destructive.
DESTRUCTIVE_WORDS = (
    "restart",
    "delete",
    "remove",
    "write",
    "push",
    "scale",
    "create",
    "update",
    "patch",
    "apply",
    "exec",
    "commit",
    "drop",
    "kill",
    "rollback",
    "deploy",
)


def is_destructive(tool: str, server_tools: dict[str, bool] | None = None) -> bool:
    if server_tools is not None and tool in server_tools:
        return server_tools[tool]
    words = tool.lower().replace("-", "_").split("_")
    return any(w in DESTRUCTIVE_WORDS for w in words)
