"""JWT bearer auth (shared secret or JWKS), per-principal rate limiting, request size limits.

Open without a token: /health, /ready, /metrics and the A2A agent card (kagent's readiness probe). When auth is
configured (``AGENT_JWT_SECRET`` or ``AGENT_JWT_JWKS_URL``) everything else needs a token — A2A and the MCP server
included — unless ``AGENT_AUTH_A2A=false`` / ``AGENT_AUTH_MCP=false`` opt out explicitly (in-cluster use behind
NetworkPolicies: kagent calls BYO agents and MCP servers without tokens).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_runtime.observability import Metrics, get_logger

log = get_logger("security")

OPEN_PATHS = {
    "/health",
    "/ready",
    "/metrics",
    "/.well-known/agent-card.json",
    "/.well-known/agent.json",
    "/openapi.json",
    "/docs",
}


class AuthError(Exception):
    pass


class Authenticator:
    def __init__(self, settings: Any):
        self.secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self.jwks = None
        if settings.jwt_jwks_url:
            self.jwks = jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, lifespan=300)
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer

    @property
    def enabled(self) -> bool:
        return bool(self.secret or self.jwks)

    def principal(self, authorization: str | None) -> str:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthError("missing bearer token")
        token = authorization.split(" ", 1)[1].strip()
        options: Any = {"require": ["exp", "sub"], "verify_aud": self.audience is not None}
        try:
            if self.jwks is not None:
                key = self.jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=["RS256", "ES256"],
                    audience=self.audience,
                    issuer=self.issuer,
                    options=options,
                )
            else:
                claims = jwt.decode(
                    token,
                    self.secret or "",
                    algorithms=["HS256"],
                    audience=self.audience,
                    issuer=self.issuer,
                    options=options,
                )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {type(exc).__name__}") from None
        return str(claims["sub"])


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per principal: ``per_minute`` requests, refilled continuously."""

    def __init__(self, per_minute: int, max_principals: int = 100_000):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.buckets: dict[str, Bucket] = {}
        self.max_principals = max_principals

    def allow(self, principal: str) -> tuple[bool, float]:
        now = time.monotonic()
        b = self.buckets.get(principal)
        if b is None:
            if len(self.buckets) >= self.max_principals:
                self.buckets.clear()
            b = self.buckets[principal] = Bucket(self.capacity, now)
        b.tokens = min(self.capacity, b.tokens + (now - b.updated) * self.rate)
        b.updated = now
        if b.tokens >= 1:
            b.tokens -= 1
            return True, 0.0
        return False, (1 - b.tokens) / self.rate


#: JWT subjects of platform services (Kubernetes service accounts: kagent, the gateway's token exchange), which
#: speak for many users and are never rate limited as one.
SERVICE_PRINCIPALS = ("sub:system:serviceaccount:",)


class SecurityMiddleware:
    """Pure ASGI (no per-request task like BaseHTTPMiddleware): auth, then the per-principal rate limit."""

    def __init__(self, app: ASGIApp, settings: Any, metrics: Metrics, surface: str = "http"):
        self.app = app
        self.auth = Authenticator(settings)
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self.surface = surface  # "http": the agent server; "mcp": the MCP server
        self.auth_a2a = settings.auth_a2a is not False
        self.auth_mcp = settings.auth_mcp is not False
        self.metrics = metrics
        self.agent = settings.agent_name
        metrics.rate_limited.labels(self.agent)  # exported (at 0) from the start: the metrics contract
        if not self.auth.enabled:
            log.warning(
                "JWT auth disabled: set AGENT_JWT_SECRET or AGENT_JWT_JWKS_URL to require tokens", surface=surface
            )
        elif surface == "http" and not self.auth_a2a:
            log.warning("A2A is open without a token (AGENT_AUTH_A2A=false): keep it behind NetworkPolicies")
        elif surface == "mcp" and not self.auth_mcp:
            log.warning("MCP is open without a token (AGENT_AUTH_MCP=false): keep it behind NetworkPolicies")

    def _protected(self, path: str) -> bool:
        if self.surface == "mcp":
            return self.auth_mcp
        if path in OPEN_PATHS:
            return False
        if path == "/" or path.startswith("/a2a"):
            return self.auth_a2a
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        # The limit is per *user*: a JWT subject. A request without one (an open in-cluster surface: kagent, the
        # gateway) or from a platform service account carries many users' traffic from one address, so it is not
        # limited here as if it were one user; the gateway's per-route limit and NetworkPolicies cover it.
        principal: str | None = None
        if self.auth.enabled:
            headers = dict(scope.get("headers") or [])
            raw = headers.get(b"authorization")
            try:
                principal = "sub:" + self.auth.principal(raw.decode("latin-1") if raw else None)
            except AuthError as exc:
                await JSONResponse(
                    {"error": "unauthorized", "detail": str(exc)},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )(scope, receive, send)
                return
        user = principal if principal and not principal.startswith(SERVICE_PRINCIPALS) else None
        ok, wait = self.limiter.allow(user) if user else (True, 0.0)
        if not ok:
            self.metrics.rate_limited.labels(self.agent).inc()
            await JSONResponse(
                {"error": "rate limited", "retry_after_seconds": round(wait, 2)},
                status_code=429,
                headers={"Retry-After": str(max(1, int(wait + 0.999)))},
            )(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal or "anonymous"
        await self.app(scope, receive, send)


class BodySizeLimit:
    """Refuse bodies over ``limit`` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = JSONResponse({"error": "request too large", "limit_bytes": self.limit}, status_code=413)
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_big(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await too_big(scope, receive, send)


class _TooLarge(Exception):
    pass
