"""Runtime settings: CLI flags > environment > defaults. Names follow kube-agent (seed 003) and the kagent BYO
contract (KAGENT_NAME, KAGENT_NAMESPACE, KAGENT_URL, OTEL_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]  # env: 'a,b,c'

SA_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, case_sensitive=False)

    # LLM (OpenAI-compatible: vLLM, LiteLLM, the platform gateway)
    llm_url: str = Field(
        "http://litellm.litellm.svc.cluster.local:4000/v1", validation_alias=_env("KUBE_AGENT_LLM_URL", "llm_url")
    )
    llm_model: str = Field("gpt-4o", validation_alias=_env("KUBE_AGENT_LLM_MODEL", "llm_model"))
    llm_api_key: SecretStr = Field(SecretStr("no-key"), validation_alias=_env("KUBE_AGENT_LLM_API_KEY", "llm_api_key"))
    llm_provider: str = Field(
        "openai",
        validation_alias=_env("AGENT_LLM_PROVIDER", "llm_provider"),
        pattern=r"^[a-z0-9_.-]{1,64}$",
        description="The provider label of llm_* metrics (vllm, tgi, openai, bedrock, ...)",
    )
    llm_headers: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        validation_alias=_env("KUBE_AGENT_LLM_HEADERS", "llm_headers"),
        description="Extra request headers as name=value,name=value (the gateway routes on x-model-id)",
    )
    llm_timeout: float = Field(
        30.0,
        gt=0,
        validation_alias=_env("AGENT_LLM_TIMEOUT", "llm_timeout"),
        description="One LLM call; the whole turn is bounded by request_timeout",
    )
    llm_retries: int = Field(3, ge=0, le=10, validation_alias=_env("AGENT_LLM_RETRIES", "llm_retries"))
    llm_backoff: float = Field(0.5, ge=0, validation_alias=_env("AGENT_LLM_BACKOFF", "llm_backoff"))
    usd_per_1k_prompt_tokens: float = Field(
        0.0, validation_alias=_env("AGENT_USD_PER_1K_PROMPT", "usd_per_1k_prompt_tokens")
    )
    usd_per_1k_completion_tokens: float = Field(
        0.0, validation_alias=_env("AGENT_USD_PER_1K_COMPLETION", "usd_per_1k_completion_tokens")
    )

    # Gitea
    gitea_url: str | None = Field(None, validation_alias=_env("KUBE_AGENT_GITEA_URL", "gitea_url"))
    gitea_token: SecretStr | None = Field(None, validation_alias=_env("KUBE_AGENT_GITEA_TOKEN", "gitea_token"))

    # Kubernetes
    namespace: str | None = Field(None, validation_alias=_env("KUBE_AGENT_NAMESPACE", "namespace"))
    kube_context: str | None = Field(None, validation_alias=_env("KUBE_AGENT_CONTEXT", "kube_context"))
    kube_api_url: str | None = Field(
        None,
        validation_alias=_env("AGENT_KUBE_API_URL", "kube_api_url"),
        description="Talk to this API server without credentials (tests, proxies)",
    )

    # kagent BYO contract
    agent_name: str = Field("kube-agent", validation_alias=_env("KAGENT_NAME", "agent_name"))
    kagent_namespace: str | None = Field(None, validation_alias=_env("KAGENT_NAMESPACE", "kagent_namespace"))
    kagent_url: str | None = Field(None, validation_alias=_env("KAGENT_URL", "kagent_url"))
    public_url: str | None = Field(None, validation_alias=_env("AGENT_PUBLIC_URL", "public_url"))
    host: str = Field("0.0.0.0", validation_alias=_env("AGENT_HOST", "host"))
    port: int = Field(8080, validation_alias=_env("AGENT_PORT", "port"))

    # Agent loop
    system_prompt: str = Field(
        "You are kube-agent, an operations agent for Kubernetes and Gitea. Use the tools to inspect before you "
        "change anything, explain what you did, and say 'done' with a short summary when the task is finished.",
        validation_alias=_env("AGENT_SYSTEM_PROMPT", "system_prompt"),
    )
    autonomous: bool = Field(True, validation_alias=_env("AGENT_AUTONOMOUS", "autonomous"))
    max_continues: int = Field(5, ge=0, validation_alias=_env("AGENT_MAX_CONTINUES", "max_continues"))
    max_tool_calls: int = Field(30, ge=1, validation_alias=_env("AGENT_MAX_TOOL_CALLS", "max_tool_calls"))
    max_llm_calls: int = Field(
        40,
        ge=1,
        validation_alias=_env("AGENT_MAX_LLM_CALLS", "max_llm_calls"),
        description="Hard cap on model calls per request, whatever the model returns",
    )
    request_timeout: float = Field(
        45.0,
        gt=0,
        validation_alias=_env("AGENT_REQUEST_TIMEOUT", "AGENT_TURN_TIMEOUT", "request_timeout"),
        description="Total time one turn may take (LLM calls, retries, tools)",
    )
    tools: CommaList | None = Field(
        default=None,
        validation_alias=_env("AGENT_TOOLS", "tools"),
        description="Serve only these tools; unset: every tool the settings enable; set but empty: none",
    )
    require_approval: CommaList = Field(
        default_factory=list,
        validation_alias=_env("AGENT_REQUIRE_APPROVAL", "require_approval"),
        description="Tool names (or 'destructive') that must not run without approval",
    )

    # Memory
    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL", "redis_url"))
    redis_key_prefix: str = Field(
        "",
        pattern=r"^[A-Za-z0-9:_.-]{0,64}$",
        validation_alias=_env("REDIS_KEY_PREFIX", "redis_key_prefix"),
        description="The keys this agent's Redis user may use (set with the connection Secret, e.g. t:demo:)",
    )
    session_ttl: int = Field(3600, ge=1, validation_alias=_env("AGENT_SESSION_TTL", "session_ttl"))
    max_history: int = Field(50, ge=2, validation_alias=_env("AGENT_MAX_HISTORY", "max_history"))
    summarize_threshold: int = Field(
        40, ge=4, validation_alias=_env("AGENT_SUMMARIZE_THRESHOLD", "summarize_threshold")
    )
    milvus_uri: str | None = Field(
        None,
        validation_alias=_env("MILVUS_URI", "milvus_uri"),
        description="http(s)://host:19530 or a local milvus-lite file (*.db)",
    )
    milvus_token: SecretStr | None = Field(None, validation_alias=_env("MILVUS_TOKEN", "milvus_token"))
    milvus_db: str = Field(
        "",
        pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,63})?$",
        validation_alias=_env("MILVUS_DB_NAME", "milvus_db"),
        description="The Milvus database of this agent's knowledge base and memory (its user's own); default: default",
    )
    tenant_id: str | None = Field(
        None,
        validation_alias=_env("AGENT_TENANT_ID", "tenant_id"),
        description="Knowledge-base tenant; default from a tenant-<name> namespace",
    )
    knowledge_collection: str = Field(
        "agent_knowledge", validation_alias=_env("AGENT_KNOWLEDGE_COLLECTION", "knowledge_collection")
    )
    memory_collection: str = Field(
        "agent_memories", validation_alias=_env("AGENT_MEMORY_COLLECTION", "memory_collection")
    )
    long_term_memory: bool = Field(False, validation_alias=_env("AGENT_LONG_TERM_MEMORY", "long_term_memory"))
    embeddings_url: str | None = Field(
        None,
        validation_alias=_env("AGENT_EMBEDDINGS_URL", "embeddings_url"),
        description="OpenAI-compatible /v1 base; default: the LLM URL",
    )
    embeddings_model: str = Field(
        "text-embedding-3-small", validation_alias=_env("AGENT_EMBEDDINGS_MODEL", "embeddings_model")
    )
    embeddings_provider: str = Field(
        "openai", validation_alias=_env("AGENT_EMBEDDINGS_PROVIDER", "embeddings_provider")
    )
    embeddings_dim: int = Field(384, ge=8, validation_alias=_env("AGENT_EMBEDDINGS_DIM", "embeddings_dim"))
    embeddings_headers: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        validation_alias=_env("AGENT_EMBEDDINGS_HEADERS", "embeddings_headers"),
        description="Extra headers on embedding requests, name=value,... (the gateway routes on x-model-id)",
    )

    # Tools
    file_roots: CommaList = Field(
        default_factory=lambda: ["/tmp", "/home/agent"], validation_alias=_env("AGENT_FILE_ROOTS", "file_roots")
    )
    file_max_bytes: int = Field(1_048_576, ge=1, validation_alias=_env("AGENT_FILE_MAX_BYTES", "file_max_bytes"))
    tool_output_max_chars: int = Field(
        16_000, ge=100, validation_alias=_env("AGENT_TOOL_OUTPUT_MAX", "tool_output_max_chars")
    )
    http_tools_file: str | None = Field(None, validation_alias=_env("AGENT_HTTP_TOOLS", "http_tools_file"))

    # Security
    jwt_secret: SecretStr | None = Field(None, validation_alias=_env("AGENT_JWT_SECRET", "jwt_secret"))
    jwt_jwks_url: str | None = Field(None, validation_alias=_env("AGENT_JWT_JWKS_URL", "jwt_jwks_url"))
    jwt_audience: str | None = Field(None, validation_alias=_env("AGENT_JWT_AUDIENCE", "jwt_audience"))
    jwt_issuer: str | None = Field(None, validation_alias=_env("AGENT_JWT_ISSUER", "jwt_issuer"))
    auth_a2a: bool | None = Field(
        None,
        validation_alias=_env("AGENT_AUTH_A2A", "auth_a2a"),
        description="JWTs on A2A: default required when auth is configured; false is an "
        "explicit opt-out for in-cluster use behind NetworkPolicies (kagent "
        "sends no token)",
    )
    auth_mcp: bool | None = Field(
        None,
        validation_alias=_env("AGENT_AUTH_MCP", "auth_mcp"),
        description="JWTs on the MCP server: default required when auth is configured",
    )
    rate_limit_per_minute: int = Field(
        120,
        ge=1,
        validation_alias=_env("AGENT_RATE_LIMIT", "rate_limit_per_minute"),
        description="Requests a minute per user (JWT subject); requests without a user token or from a platform "
        "service account are not limited per user (the gateway's per-route limit covers them)",
    )
    max_request_bytes: int = Field(
        1_048_576, ge=1024, validation_alias=_env("AGENT_MAX_REQUEST_BYTES", "max_request_bytes")
    )

    # Observability
    otel_endpoint: str | None = Field(None, validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_endpoint"))
    otel_service_name: str | None = Field(None, validation_alias=_env("OTEL_SERVICE_NAME", "otel_service_name"))
    log_level: str = Field("INFO", validation_alias=_env("AGENT_LOG_LEVEL", "log_level"))

    @field_validator("llm_headers", "embeddings_headers", mode="before")
    @classmethod
    def _headers(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [p.strip() for p in value.split(",") if p.strip()]
            out = {}
            for pair in pairs:
                name, sep, val = pair.partition("=")
                if not sep or not name.strip():
                    raise ValueError(f"{pair!r} is not name=value")
                out[name.strip()] = val.strip()
            return out
        return value

    @field_validator("require_approval", "file_roots", "tools", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @property
    def effective_namespace(self) -> str:
        """--namespace / KUBE_AGENT_NAMESPACE, else the pod's own namespace, else KAGENT_NAMESPACE, else default."""
        if self.namespace:
            return self.namespace
        try:
            return SA_NAMESPACE_FILE.read_text().strip() or "default"
        except OSError:
            return self.kagent_namespace or "default"

    def secret_values(self) -> list[str]:
        """Every configured secret, so logs and tool output can scrub them."""
        out = []
        for value in (self.llm_api_key, self.gitea_token, self.jwt_secret, self.milvus_token):
            if value is not None and value.get_secret_value() not in ("", "no-key"):
                out.append(value.get_secret_value())
        return out


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment with explicit (CLI) overrides on top; ``None`` overrides are ignored."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
