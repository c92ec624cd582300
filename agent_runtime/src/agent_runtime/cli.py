"""``agent-runtime``: serve (A2A + HTTP API), mcp (tools over MCP), chat (one-shot), kb init (knowledge base),
workflow-step and workflow-notify (an agent workflow's DAG task and exit handler on Argo Workflows)."""

from __future__ import annotations

import asyncio

import typer

from agent_runtime.settings import load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
kb_app = typer.Typer(add_completion=False, no_args_is_help=True, help="The knowledge base in Milvus")
app.add_typer(kb_app, name="kb")

LLM_URL = typer.Option(None, "--llm-url", "-l", help="OpenAI-compatible endpoint [KUBE_AGENT_LLM_URL]")
LLM_MODEL = typer.Option(None, "--llm-model", "-m", help="Model name [KUBE_AGENT_LLM_MODEL]")
NAMESPACE = typer.Option(None, "--namespace", "-n", help="Kubernetes namespace [KUBE_AGENT_NAMESPACE]")
HOST = typer.Option(None, "--host", help="Bind address [AGENT_HOST, default 0.0.0.0]")
PORT = typer.Option(None, "--port", "-p", help="Port [AGENT_PORT, default 8080]")


@app.command()
def serve(
    llm_url: str | None = LLM_URL,
    llm_model: str | None = LLM_MODEL,
    namespace: str | None = NAMESPACE,
    host: str | None = HOST,
    port: int | None = PORT,
) -> None:
    """Serve A2A on /, the agent card, /chat, /v1/chat/completions, /health, /ready, /metrics."""
    import uvicorn

    from agent_runtime.server import create_app

    settings = load_settings(llm_url=llm_url, llm_model=llm_model, namespace=namespace, host=host, port=port)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning", access_log=False)


@app.command()
def mcp(namespace: str | None = NAMESPACE, host: str | None = HOST, port: int | None = PORT) -> None:
    """Serve the tools as an MCP server (streamable HTTP on /mcp)."""
    import uvicorn

    from agent_runtime.mcp_server import create_mcp_app
    from agent_runtime.observability import Metrics, configure_logging
    from agent_runtime.tools import build_registry

    settings = load_settings(namespace=namespace, host=host, port=port)
    configure_logging(settings.log_level, settings.secret_values())
    uvicorn.run(
        create_mcp_app(build_registry(settings, Metrics()), host=settings.host, settings=settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
    )


@app.command()
def chat(
    message: str = typer.Argument(..., help="What to ask"),
    llm_url: str | None = LLM_URL,
    llm_model: str | None = LLM_MODEL,
    namespace: str | None = NAMESPACE,
    session: str | None = typer.Option(None, "--session", help="Session id to continue"),
) -> None:
    """Ask once and print the answer."""
    import io

    from agent_runtime.agent import RequestTimeout
    from agent_runtime.llm import LLMError
    from agent_runtime.observability import configure_logging
    from agent_runtime.server import Runtime

    settings = load_settings(llm_url=llm_url, llm_model=llm_model, namespace=namespace)
    configure_logging("ERROR", settings.secret_values(), stream=io.StringIO())

    async def once():
        rt = Runtime.build(settings)
        try:
            return await rt.agent.run(message, session_id=session)
        finally:
            await rt.aclose()

    try:
        result = asyncio.run(once())
    except (LLMError, RequestTimeout) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(result.reply)


@app.command("workflow-step")
def workflow_step(
    agent: str = typer.Option(..., "--agent", help="The agent (kagent Agent name) this step calls"),
    namespace: str = typer.Option(..., "--namespace", help="The agent's namespace"),
    url: str = typer.Option(..., "--url", help="The agent's A2A endpoint (JSON-RPC, protocol 0.3)"),
    workflow: str = typer.Option(..., "--workflow"),
    run: str = typer.Option(..., "--run", help="The run (Argo Workflow name), carried to the agent's spans"),
    step: str = typer.Option(..., "--step"),
    timeout: float = typer.Option(300, "--timeout", min=1, help="Seconds to wait for the agent's answer"),
    field: list[str] = typer.Option([], "--field", help="key=value of the message (repeatable)"),
    field_json: list[str] = typer.Option([], "--field-json", help="key=<JSON> of the message (repeatable)"),
    item: list[str] = typer.Option([], "--item", help="key=value appended to list 'key' (repeatable)"),
    output: list[str] = typer.Option([], "--output", help="name=path picked from the reply (repeatable)"),
    outputs_dir: str = typer.Option("/tmp/outputs", "--outputs-dir", help="Where output files are written"),
) -> None:
    """Send the step's input to the agent (A2A message/send) and write each output picked from its reply."""
    from agent_runtime.workflow_step import main_step

    main_step(locals())


@app.command("workflow-notify")
def workflow_notify(
    workflow: str = typer.Option(..., "--workflow"),
    run: str = typer.Option(..., "--run"),
    status: str = typer.Option(..., "--status"),
    failures: str = typer.Option("", "--failures", help="Argo's {{workflow.failures}} (JSON)"),
) -> None:
    """Post to the Slack webhook in WORKFLOW_NOTIFY_WEBHOOK that a run ended without success."""
    import os

    from agent_runtime.workflow_step import StepError, notify

    try:
        notify(os.environ.get("WORKFLOW_NOTIFY_WEBHOOK", ""), workflow, run, status, failures)
    except StepError as exc:
        typer.echo(f"workflow-notify: {exc}", err=True)
        raise typer.Exit(exc.code) from None


@kb_app.command("init")
def kb_init(
    collection: str | None = typer.Option(None, "--collection", help="[AGENT_KNOWLEDGE_COLLECTION]"),
    dim: int | None = typer.Option(None, "--dim", min=8, help="Embedding dimension [AGENT_EMBEDDINGS_DIM]"),
    bootstrap_root_password: bool = typer.Option(
        False,
        "--bootstrap-root-password",
        help="If Milvus still has its initial root password, replace it with the one in MILVUS_TOKEN",
    ),
    wait: float = typer.Option(0, "--wait", min=0, help="Seconds to wait for Milvus to accept connections"),
    tenant_users: bool = typer.Option(
        False,
        "--tenant-users",
        help="Also give each identity in MILVUS_KB_USERS (JSON: name -> password) its own database with the "
        "collection, a user and a role limited to that database",
    ),
) -> None:
    """Create the knowledge-base collection (HNSW M=16 efConstruction=256, COSINE, tenant_id partition key), or
    check that an existing one has that schema. Safe to run any number of times. Reads MILVUS_URI, MILVUS_TOKEN."""
    from agent_runtime import kb

    settings = load_settings()
    if not settings.milvus_uri:
        typer.echo("error: MILVUS_URI is not set", err=True)
        raise typer.Exit(2)
    name = collection if collection is not None else settings.knowledge_collection
    size = dim or settings.embeddings_dim
    problem = kb.invalid_collection(name) or kb.invalid_dim(size)
    if problem:  # validated as Milvus does, before connecting
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    token = settings.milvus_token.get_secret_value() if settings.milvus_token else None
    try:
        if bootstrap_root_password:
            if not token:
                typer.echo("error: --bootstrap-root-password needs MILVUS_TOKEN (root:<password>)", err=True)
                raise typer.Exit(2)
            client, what = kb.bootstrap_root_password(settings.milvus_uri, token, wait)
            typer.echo(what)
        else:
            client = kb.connect(settings.milvus_uri, token, wait)
        result = kb.init_collection(client, name, size)
        if tenant_users:
            import json
            import os

            try:
                users = json.loads(os.environ.get("MILVUS_KB_USERS") or "{}")
            except ValueError:
                typer.echo("error: MILVUS_KB_USERS is not JSON (name -> password)", err=True)
                raise typer.Exit(2) from None
            bad = [u for u in users if not kb.valid_identity(u) or not isinstance(users[u], str) or len(users[u]) < 6]
            if not isinstance(users, dict) or bad:
                typer.echo(f"error: MILVUS_KB_USERS: invalid entries {bad}", err=True)
                raise typer.Exit(2)
            for line in kb.init_tenants(client, users, name, size):
                typer.echo(line)
    except kb.SchemaMismatch as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"collection {name}: {result} (dim {size}, HNSW M=16 efConstruction=256, COSINE, partition key tenant_id)"
    )


if __name__ == "__main__":
    app()
