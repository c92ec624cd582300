"""HTTP API tools declared in config (seed 000's create-ticket): endpoint, method, timeout, retries, bearer token
from an environment variable, JSON-schema parameters."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field

from agent_runtime.tools import Tool, ToolError


class HttpToolSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str
    endpoint: str = Field(pattern=r"^https?://")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    timeout: float = Field(30.0, gt=0, le=300)
    retries: int = Field(2, ge=0, le=10)
    bearer_token_env: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    destructive: bool = False


def load_specs(path: str | None) -> list[HttpToolSpec]:
    if not path:
        return []
    doc = yaml.safe_load(Path(path).read_text()) or {}
    return [HttpToolSpec.model_validate(t) for t in doc.get("tools", [])]


def make_tool(spec: HttpToolSpec, backoff: float = 0.2) -> Tool:
    async def call(args: dict[str, Any]) -> str:
        headers = {"Accept": "application/json"}
        if spec.bearer_token_env:
            token = os.environ.get(spec.bearer_token_env)
            if not token:
                raise ToolError(f"{spec.bearer_token_env} is not set: the tool cannot authenticate")
            headers["Authorization"] = f"Bearer {token}"
        body: dict[str, Any] = {"json": args} if spec.method in ("POST", "PUT", "PATCH") else {"params": args}
        last = ""
        for attempt in range(spec.retries + 1):
            try:
                async with httpx.AsyncClient(timeout=spec.timeout) as client:
                    resp = await client.request(spec.method, spec.endpoint, headers=headers, **body)
                if resp.status_code < 500 and resp.status_code != 429:
                    if resp.status_code >= 400:
                        raise ToolError(f"{spec.name}: HTTP {resp.status_code}: {resp.text[:500]}")
                    return resp.text or f"HTTP {resp.status_code}"
                last = f"HTTP {resp.status_code}"
            except httpx.TimeoutException:
                last = f"timed out after {spec.timeout}s"
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}"
            if attempt < spec.retries:
                await asyncio.sleep(backoff * 2**attempt)
        raise ToolError(f"{spec.name}: {spec.endpoint} failed after {spec.retries + 1} attempt(s): {last}")

    return Tool(spec.name, spec.description, spec.parameters, call, destructive=spec.destructive, group="http")


def tools(settings: Any) -> list[Tool]:
    return [make_tool(s) for s in load_specs(settings.http_tools_file)]
