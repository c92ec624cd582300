"""Load and check the platform config before anything is registered.

Every problem is reported (not only the first) as ``<full config path>: <what is wrong and how to fix it>``.
:func:`parse_platform` is the single entry point used by the Pulumi program, the offline plan and the CLI.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

from stacks.config import Platform
from stacks.instances import instances_of, max_gpus_per_node

ROOT = "platform"


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(Exception):
    """The platform config is invalid; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem], source: str = ""):
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the platform config{where}:\n{lines}")


def path_of(loc: Iterable[Any]) -> str:
    out = ROOT
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


# --- pydantic errors → problems ------------------------------------------------------------------------------------


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that owns the field at ``loc`` (for 'did you mean' hints)."""
    model: Any = Platform
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        ann = field.annotation
        model = _unwrap_model(ann)
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unwrap_model(ann: Any) -> Any:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def _from_pydantic(exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc)
            allowed = sorted(
                (f.alias or n) for n, f in (model.model_fields.items() if model else [])
            )
            hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            msg = "unknown key" + (f"; did you mean '{hint[0]}'?" if hint else "")
            if allowed:
                msg += f" Allowed keys: {', '.join(allowed)}"
        elif kind == "missing":
            msg = "required key is missing: add it to the stack config"
        elif kind == "value_error":
            msg = str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
        elif kind == "literal_error":
            msg = f"{err['msg']} (got {err.get('input')!r})"
        elif kind == "string_pattern_mismatch":
            msg = f"{err.get('input')!r} does not match the expected format {err['ctx']['pattern']}"
        else:
            msg = f"{err['msg']} (got {err.get('input')!r})"
        problems.append(Problem(path_of(loc), msg))
    return problems


# --- quantities ---------------------------------------------------------------------------------------------------

_SUFFIX = {
    "m": Decimal("0.001"), "": Decimal(1), "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9),
    "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18), "Ki": Decimal(2**10), "Mi": Decimal(2**20),
    "Gi": Decimal(2**30), "Ti": Decimal(2**40), "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}


def quantity(text: str) -> Decimal:
    """Parse a Kubernetes quantity ('500m', '16Gi', '4') into a number (cores or bytes)."""
    for suffix in sorted(_SUFFIX, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * _SUFFIX[suffix]
    return Decimal(text)


# --- cross-field rules --------------------------------------------------------------------------------------------


def _duplicates(items: list[Any], attr: str, path: str) -> list[Problem]:
    counts = Counter(getattr(i, attr) for i in items)
    return [
        Problem(f"{path}[{idx}].{attr}", f"duplicate name '{getattr(i, attr)}': names must be unique in {path}")
        for idx, i in enumerate(items)
        if counts[getattr(i, attr)] > 1
    ]


def _subnets_fit(vpc: ipaddress.IPv4Network, prefixes: list[int]) -> bool:
    # Power-of-two blocks allocated largest-first always pack, so total size decides.
    return all(p >= vpc.prefixlen for p in prefixes) and sum(2 ** (32 - p) for p in prefixes) <= vpc.num_addresses


def _check_network(cfg: Platform) -> list[Problem]:
    out: list[Problem] = []
    net = cfg.network
    vpc = ipaddress.IPv4Network(net.vpc_cidr)
    if not vpc.is_private:
        out.append(Problem(f"{ROOT}.network.vpc_cidr", f"{vpc} is not a private (RFC 1918) range: use e.g. 10.0.0.0/16"))
    prefixes = [net.public_subnet_prefix] * net.az_count + [net.private_subnet_prefix] * net.az_count
    if not _subnets_fit(vpc, prefixes):
        need = sum(2 ** (32 - p) for p in prefixes)
        out.append(
            Problem(
                f"{ROOT}.network.vpc_cidr",
                f"{vpc} ({vpc.num_addresses} addresses) cannot hold {net.az_count} public /{net.public_subnet_prefix} "
                f"and {net.az_count} private /{net.private_subnet_prefix} subnets ({need} addresses): "
                "widen the VPC CIDR or raise the subnet prefix lengths",
            )
        )
    if net.availability_zones:
        if len(net.availability_zones) != net.az_count:
            out.append(
                Problem(
                    f"{ROOT}.network.availability_zones",
                    f"lists {len(net.availability_zones)} zones but az_count is {net.az_count}: make them agree",
                )
            )
        for i, az in enumerate(net.availability_zones):
            if not az.startswith(cfg.aws.region):
                out.append(
                    Problem(f"{ROOT}.network.availability_zones[{i}]", f"'{az}' is not a zone of region {cfg.aws.region}")
                )
    ep = cfg.cluster.endpoint
    if not ep.private and not ep.public:
        out.append(Problem(f"{ROOT}.cluster.endpoint", "private and public access are both off: enable at least one"))
    if ep.public:
        if not ep.public_cidrs:
            out.append(
                Problem(
                    f"{ROOT}.cluster.endpoint.public_cidrs",
                    "public endpoint without allowed CIDRs would be open to the internet: list your office/VPN CIDRs",
                )
            )
        for i, c in enumerate(ep.public_cidrs):
            if ipaddress.IPv4Network(c).prefixlen == 0:
                out.append(
                    Problem(f"{ROOT}.cluster.endpoint.public_cidrs[{i}]", "0.0.0.0/0 opens the API server to everyone")
                )
    ng = cfg.cluster.system_node_group
    if not ng.min_size <= ng.desired_size <= ng.max_size:
        out.append(
            Problem(
                f"{ROOT}.cluster.system_node_group",
                f"sizes must satisfy min_size <= desired_size <= max_size (got {ng.min_size}, {ng.desired_size}, "
                f"{ng.max_size})",
            )
        )
    return out


def _check_pools(cfg: Platform) -> list[Problem]:
    out = _duplicates(cfg.gpu_pools, "name", f"{ROOT}.gpu_pools")
    for i, pool in enumerate(cfg.gpu_pools):
        p = f"{ROOT}.gpu_pools[{i}]"
        if len(set(pool.capacity_types)) != len(pool.capacity_types):
            out.append(Problem(f"{p}.capacity_types", "lists a capacity type twice"))
        if ("reserved" in pool.capacity_types) != bool(pool.capacity_reservations):
            out.append(
                Problem(
                    f"{p}.capacity_reservations",
                    "list the capacity reservation ids when capacity_types includes 'reserved' (and only then)",
                )
            )
        candidates = instances_of(list(pool.instance_families), list(pool.gpu_counts))
        if cfg.environment == "prod" and len(candidates) * len(pool.capacity_types) < 2:
            out.append(
                Problem(
                    f"{p}.capacity_types",
                    f"pool '{pool.name}' can launch a single SKU ({candidates[0].name if candidates else 'none'}) "
                    "with a single capacity type: one capacity error blocks it. Add a capacity type or a family",
                )
            )
        if max_gpus_per_node(list(pool.instance_families), list(pool.gpu_counts)) == 0:
            out.append(
                Problem(
                    f"{p}.gpu_counts",
                    f"no instance of families {list(pool.instance_families)} has {list(pool.gpu_counts)} GPUs: "
                    "widen gpu_counts or change the families",
                )
            )
        for vol_name in ("root_volume", "data_volume"):
            vol = getattr(pool, vol_name)
            if vol is not None and vol.iops > 500 * vol.size_gib:
                out.append(
                    Problem(f"{p}.{vol_name}.iops", f"gp3 allows at most 500 IOPS per GiB ({500 * vol.size_gib} here)")
                )
    if cfg.cpu_pool.name in {g.name for g in cfg.gpu_pools}:
        out.append(Problem(f"{ROOT}.cpu_pool.name", f"'{cfg.cpu_pool.name}' is also a GPU pool name: rename one"))
    return out


def _check_namespaces(cfg: Platform) -> list[Problem]:
    out = _duplicates(cfg.namespaces, "name", f"{ROOT}.namespaces")
    out += _duplicates(cfg.tenants, "name", f"{ROOT}.tenants")
    layers = Counter(ns.layer for ns in cfg.namespaces)
    for i, ns in enumerate(cfg.namespaces):
        if layers[ns.layer] > 1:
            out.append(Problem(f"{ROOT}.namespaces[{i}].layer", f"layer '{ns.layer}' has more than one namespace"))
        if ns.name.startswith("tenant-"):
            out.append(Problem(f"{ROOT}.namespaces[{i}].name", "the 'tenant-' prefix is reserved for tenant namespaces"))
        if ns.quota.gpus and ns.layer != "inference":
            out.append(
                Problem(f"{ROOT}.namespaces[{i}].quota.gpus", "only the inference layer runs GPU workloads: set 0")
            )
    for missing in sorted({"gateway", "agents", "inference", "data", "observability"} - set(layers)):
        out.append(Problem(f"{ROOT}.namespaces", f"no namespace for layer '{missing}': add one"))
    for i, t in enumerate(cfg.tenants):
        if len(t.namespace) > 63:
            out.append(Problem(f"{ROOT}.tenants[{i}].name", f"namespace '{t.namespace}' would exceed 63 characters"))
    return out


def _check_models(cfg: Platform) -> list[Problem]:
    out = _duplicates(cfg.models, "name", f"{ROOT}.models")
    pools = {p.name: p for p in cfg.gpu_pools}
    headers = Counter(m.header_value for m in cfg.models)
    gpus_on_pool: dict[str, list[tuple[str, int]]] = {}
    for i, m in enumerate(cfg.models):
        p = f"{ROOT}.models[{i}]"
        total = sum(v.weight for v in m.variants)
        if total != 100:
            out.append(
                Problem(
                    f"{p}.variants",
                    f"route weights sum to {total}, not 100: adjust variants[].weight "
                    f"({', '.join(f'{v.name}={v.weight}' for v in m.variants)})",
                )
            )
        out += _duplicates(m.variants, "name", f"{p}.variants")
        if headers[m.header_value] > 1:
            out.append(Problem(f"{p}.route_header_value", f"'{m.header_value}' routes to more than one model"))
        pool = pools.get(m.pool)
        if pool is None:
            hint = difflib.get_close_matches(m.pool, list(pools), n=1)
            out.append(
                Problem(
                    f"{p}.pool",
                    f"GPU pool '{m.pool}' does not exist"
                    + (f"; did you mean '{hint[0]}'?" if hint else f"; defined pools: {', '.join(pools) or 'none'}"),
                )
            )
            continue
        biggest = max_gpus_per_node(list(pool.instance_families), list(pool.gpu_counts))
        if m.gpus > biggest:
            out.append(
                Problem(
                    f"{p}.gpus",
                    f"{m.gpus} GPUs per replica do not fit on one node of pool '{pool.name}' (at most {biggest}): "
                    "lower gpus or add a larger instance family to the pool",
                )
            )
        gpus_on_pool.setdefault(m.pool, []).append((m.name, m.gpus * sum(v.replicas for v in m.variants)))
    for i, pool in enumerate(cfg.gpu_pools):
        users = gpus_on_pool.get(pool.name, [])
        need = sum(n for _, n in users)
        if need > pool.limits.gpus:
            who = ", ".join(f"model '{n}' requests {g} GPUs" for n, g in users)
            out.append(
                Problem(
                    f"{ROOT}.gpu_pools[{i}].limits.gpus",
                    f"must be >= {need} because {who} on pool '{pool.name}'",
                )
            )
    return out


def _check_quota_covers(cfg: Platform) -> list[Problem]:
    """The inference namespace quota must admit every model replica the stack itself deploys."""
    out: list[Problem] = []
    idx = next((i for i, ns in enumerate(cfg.namespaces) if ns.layer == "inference"), None)
    if idx is None or not cfg.models:
        return out
    quota = cfg.namespaces[idx].quota
    gpus = sum(m.gpus * v.replicas for m in cfg.models for v in m.variants)
    cpu = sum(quantity(m.cpu) * v.replicas for m in cfg.models for v in m.variants)
    mem = sum(quantity(m.memory) * v.replicas for m in cfg.models for v in m.variants)
    p = f"{ROOT}.namespaces[{idx}].quota"
    if gpus > quota.gpus:
        out.append(Problem(f"{p}.gpus", f"must be >= {gpus}: the models in this stack request {gpus} GPUs"))
    if cpu > quantity(quota.requests_cpu):
        out.append(Problem(f"{p}.requests_cpu", f"must be >= {cpu.normalize():f}: the models request that much CPU"))
    if mem > quantity(quota.requests_memory):
        gib = (mem / 2**30).quantize(Decimal("0.1"))
        out.append(Problem(f"{p}.requests_memory", f"must be >= {gib}Gi: the models request that much memory"))
    return out


def _check_kagent(cfg: Platform) -> list[Problem]:
    k = cfg.kagent
    base = f"{ROOT}.kagent"
    out = _duplicates(k.model_configs, "name", f"{base}.model_configs")
    out += _duplicates(k.mcp_servers, "name", f"{base}.mcp_servers")
    out += _duplicates(k.agents, "name", f"{base}.agents")
    models = {m.name for m in cfg.models}
    mcs = {m.name for m in k.model_configs}
    servers = {s.name: s for s in k.mcp_servers}
    agents = {a.name for a in k.agents}
    namespaces = {ns.name for ns in cfg.namespaces} | {t.namespace for t in cfg.tenants}
    for i, mc in enumerate(k.model_configs):
        p = f"{base}.model_configs[{i}]"
        if mc.platform_model is not None:
            if mc.platform_model not in models:
                out.append(Problem(f"{p}.platform_model", f"model '{mc.platform_model}' is not in platform.models"))
            if mc.provider != "OpenAI":
                out.append(Problem(f"{p}.provider", "platform models are served by vLLM: use provider 'OpenAI'"))
        elif mc.provider in ("OpenAI", "Anthropic", "AzureOpenAI", "Gemini") and mc.api_key is None:
            out.append(Problem(f"{p}.api_key", f"provider {mc.provider} needs an API key secret reference"))
        if mc.provider == "Bedrock" and not mc.bedrock_region:
            out.append(Problem(f"{p}.bedrock_region", "Bedrock model configs need a region"))
    for i, s in enumerate(k.mcp_servers):
        p = f"{base}.mcp_servers[{i}]"
        if s.kind == "remote" and not s.url:
            out.append(Problem(f"{p}.url", "a remote MCP server needs a url"))
        if s.kind == "kmcp" and not s.image:
            out.append(Problem(f"{p}.image", "a kmcp MCP server needs an image"))
    for i, a in enumerate(k.agents):
        p = f"{base}.agents[{i}]"
        if a.type == "Declarative":
            if a.model_config_ref is None:
                out.append(Problem(f"{p}.model_config", "a Declarative agent needs a model_config"))
            elif a.model_config_ref not in mcs:
                out.append(
                    Problem(
                        f"{p}.model_config",
                        f"model config '{a.model_config_ref}' is not in platform.kagent.model_configs"
                        + (f" (defined: {', '.join(sorted(mcs))})" if mcs else ""),
                    )
                )
            if not a.system_message:
                out.append(Problem(f"{p}.system_message", "a Declarative agent needs a system_message"))
        elif a.image is None and cfg.agent_runtime.build is False:
            out.append(Problem(f"{p}.image", "BYO agent needs an image when agent_runtime.build is false"))
        if a.namespace is not None and a.namespace not in namespaces:
            out.append(Problem(f"{p}.namespace", f"namespace '{a.namespace}' is not a layer or tenant namespace"))
        for j, t in enumerate(a.tools):
            tp = f"{p}.tools[{j}]"
            if (t.mcp_server is None) == (t.agent is None):
                out.append(Problem(tp, "set exactly one of mcp_server or agent"))
                continue
            if t.mcp_server is not None:
                server = servers.get(t.mcp_server)
                if server is None:
                    out.append(Problem(f"{tp}.mcp_server", f"MCP server '{t.mcp_server}' is not in kagent.mcp_servers"))
                    continue
                unknown = [n for n in t.tool_names if server.tools and n not in server.tools]
                if unknown:
                    out.append(Problem(f"{tp}.tool_names", f"{unknown} are not tools of '{server.name}'"))
            elif t.agent not in agents:
                out.append(Problem(f"{tp}.agent", f"agent '{t.agent}' is not in kagent.agents"))
            elif t.agent == a.name:
                out.append(Problem(f"{tp}.agent", "an agent cannot use itself as a tool"))
            stray = [n for n in t.require_approval if n not in t.tool_names]
            if stray:
                out.append(Problem(f"{tp}.require_approval", f"{stray} must also be listed in tool_names"))
        if a.scaling and a.scaling.min_replicas > a.scaling.max_replicas:
            out.append(Problem(f"{p}.scaling", "min_replicas is greater than max_replicas"))
    return out


def _check_environment(cfg: Platform) -> list[Problem]:
    if cfg.environment != "prod":
        return []
    out: list[Problem] = []
    ep = cfg.cluster.endpoint
    if ep.public or not ep.private:
        out.append(
            Problem(
                f"{ROOT}.cluster.endpoint",
                "prod requires a private-only API endpoint: set private: true and public: false",
            )
        )
    if cfg.gpu_pools and not any("on-demand" in p.capacity_types for p in cfg.gpu_pools):
        out.append(
            Problem(f"{ROOT}.gpu_pools", "prod needs on-demand fallback on at least one GPU pool: add 'on-demand'")
        )
    if cfg.network.nat_mode != "per_az":
        out.append(Problem(f"{ROOT}.network.nat_mode", "prod needs one NAT gateway per AZ: set 'per_az'"))
    if not cfg.cluster.secrets_encryption:
        out.append(Problem(f"{ROOT}.cluster.secrets_encryption", "prod requires KMS envelope encryption of Secrets"))
    return out


RULES = (_check_network, _check_pools, _check_namespaces, _check_models, _check_quota_covers, _check_kagent,
         _check_environment)


def check(cfg: Platform) -> list[Problem]:
    """Every cross-field problem of an otherwise well-typed config."""
    return [problem for rule in RULES for problem in rule(cfg)]


def parse_platform(raw: Any, source: str = "") -> Platform:
    """Validate ``raw`` (the value of ``agentic-platform:platform``) and return the typed model or raise ConfigError."""
    if not isinstance(raw, dict):
        raise ConfigError([Problem(ROOT, f"must be a mapping, got {type(raw).__name__}")], source)
    try:
        cfg = Platform.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_from_pydantic(exc), source) from None
    problems = check(cfg)
    if problems:
        raise ConfigError(problems, source)
    return cfg
