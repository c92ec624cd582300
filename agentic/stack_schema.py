"""``agentic schema``: JSON Schema for a whole ``Pulumi.<stack>.yaml`` of this project (a platform stack or a tenant
stack: ``agentic-platform:platform``, ``agentic-platform:tenant``, ``agentic-platform:deploy``, the AWS region, the
secrets provider), or for one of its keys. Editors attach it to the stack files for completion and checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from config.deploy import DeployConfig
from config.loader import PROJECT
from config.platform import Platform
from config.tenant_stack import TenantStack

DRAFT = "https://json-schema.org/draft/2020-12/schema"
PARTS: dict[str, type[BaseModel]] = {"platform": Platform, "tenant": TenantStack, "deploy": DeployConfig}


def part_schema(part: str) -> dict[str, Any]:
    doc = PARTS[part].model_json_schema(by_alias=True)
    return {"$schema": DRAFT, "title": f"{PROJECT}:{part}", **doc}


def stack_file_schema() -> dict[str, Any]:
    mode: JsonSchemaMode = "validation"
    refs, defs = models_json_schema(
        [(model, mode) for model in PARTS.values()], by_alias=True, ref_template="#/$defs/{model}"
    )
    ref: dict[str, Any] = {name: refs[(model, mode)] for name, model in PARTS.items()}
    deploy = defs["$defs"]["DeployConfig"]
    # a tenant stack's deploy block names only its backend: the role and environment are the platform's
    tenant_deploy = {"type": "object", "properties": deploy["properties"], "additionalProperties": False}
    ref["deploy"] = {"anyOf": [ref["deploy"], tenant_deploy]}
    secret = {"type": "object", "properties": {"secure": {"type": "string"}}, "required": ["secure"]}
    return {
        "$schema": DRAFT,
        "title": f"Pulumi.<stack>.yaml of {PROJECT} (a platform or a tenant stack)",
        "type": "object",
        "properties": {
            "secretsprovider": {"type": "string", "description": "awskms://... for an S3 backend"},
            "encryptedkey": {"type": "string"},
            "config": {
                "type": "object",
                "properties": {f"{PROJECT}:{name}": ref[name] for name in ("platform", "tenant", "deploy")}
                | {"aws:region": {"type": "string", "pattern": r"^[a-z]{2}(-gov)?-[a-z]+-\d$"}},
                "additionalProperties": {
                    "description": "other providers' settings, and stack secrets ({secure: ...}, "
                    "`pulumi config set --secret`)",
                    "anyOf": [secret, {"not": {"type": "object", "required": ["secure"]}}],
                },
                "not": {"required": [f"{PROJECT}:platform", f"{PROJECT}:tenant"]},  # one or the other
            },
        },
        "required": ["config"],
        **defs,
    }
