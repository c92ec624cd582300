"""Shared pieces of the config tree: the strict model base, reusable field types, and the problem type every rule
reports. Imports nothing from Pulumi (a test enforces it)."""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

ROOT = "platform"

# --- problems ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or, with ``severity='warning'``, worth knowing) at a full config path."""

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(Exception):
    """The platform config is invalid; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem], source: str = ""):
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the config{where}:\n{lines}")


def path_of(loc: Iterable[Any], root: str = ROOT) -> str:
    out = root
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def duplicates(items: list[Any], attr: str, path: str) -> list[Problem]:
    counts = Counter(getattr(i, attr) for i in items)
    return [
        Problem(f"{path}[{idx}].{attr}", f"duplicate name '{getattr(i, attr)}': names must be unique in {path}")
        for idx, i in enumerate(items)
        if counts[getattr(i, attr)] > 1
    ]


def unknown_ref(kind: str, name: str, known: Iterable[str], where: str) -> str:
    """'<kind> 'x' is not in <where>; did you mean 'y'?' (or the list of what is defined)."""
    known = sorted(known)
    hint = difflib.get_close_matches(name, known, n=1)
    tail = f"; did you mean '{hint[0]}'?" if hint else (f" (defined: {', '.join(known)})" if known else "")
    return f"{kind} '{name}' is not in {where}{tail}"


# --- reusable field types ----------------------------------------------------------------------------------------

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")
_DURATION = re.compile(r"([0-9]+(s|m|h))+")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            f"{short(value)} is not a DNS-1123 label: use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit (e.g. 'llama-70b')"
        )
    return value


def _quantity(value: str | int | float) -> str:
    text = str(value)
    if len(text) > 24 or not _QUANTITY.fullmatch(text):
        raise ValueError(f"{short(text)} is not a Kubernetes quantity: write e.g. '500m', '4', '16Gi'")
    if quantity(text) > MAX_QUANTITY:
        raise ValueError(f"{short(text)} is too large to be a real quantity (more than {MAX_QUANTITY:.0e})")
    return text


def _duration(value: str) -> str:
    if value != "Never" and not _DURATION.fullmatch(value):
        raise ValueError(f"{short(value)} is not a duration: write e.g. '30s', '10m', '720h' or 'Never'")
    return value


def _cidr(value: str) -> str:
    try:
        ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{short(value)} is not a valid IPv4 CIDR ({exc}); write e.g. '10.0.0.0/16'") from None
    return value


_IMAGE_NAME = re.compile(
    r"(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
)
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


def _image(value: str) -> str:
    ref, _, digest = value.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise ValueError(f"image {short(value)} has a malformed digest: write name@sha256:<64 hex digits>")
    name, tag = ref, ""
    if ":" in ref.rsplit("/", 1)[-1]:
        name, tag = ref.rsplit(":", 1)
        if not _IMAGE_TAG.fullmatch(tag):
            raise ValueError(f"image {short(value)} has an empty or malformed tag: e.g. '{name}:v1.2.3'")
    if not _IMAGE_NAME.fullmatch(name):
        raise ValueError(f"{short(value)} is not an image reference: write e.g. 'vllm/vllm-openai:v0.11.0'")
    if digest:
        return value
    if not tag:
        raise ValueError(f"image {short(value)} has no tag: pin one, e.g. '{value}:v1.2.3'")
    if tag == "latest":
        raise ValueError(f"image {short(value)} uses 'latest': pin a version tag or a digest")
    return value


_DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_HOSTNAME = re.compile(r"(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _service_name(value: str) -> str:
    if len(value) > 63 or not _DNS_1035.fullmatch(value):
        raise ValueError(
            f"{short(value)} is not a valid Service name (DNS-1035): start with a letter, then "
            "lowercase letters, digits and '-', at most 63 (e.g. 'llama-8b')"
        )
    return value


def _hostname(value: str) -> str:
    if len(value) > 253 or not _HOSTNAME.fullmatch(value):
        raise ValueError(
            f"{short(value)} is not a hostname: lowercase DNS name, e.g. 'ai.example.com' or '*.example.com'"
        )
    return value


def _http_url(value: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and value == value.strip()
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        ok = False
    if not ok or any(c.isspace() for c in value):
        raise ValueError(f"{short(value)} is not an http(s) URL with a host, e.g. 'http://svc.ns:8080/mcp'")
    return value


def _non_empty(value: str) -> str:
    if not value.strip() or value != value.strip():
        raise ValueError(f"{short(value)} must be non-empty without leading or trailing spaces")
    return value


def label_key_problem(key: str) -> str:
    """Why ``key`` is not a valid Kubernetes label key ('' when it is)."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix)):
        return f"label key {short(key)}: the prefix must be a DNS subdomain"
    if not name or len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return (
            f"label key {short(key)}: the name must be 1-63 letters, digits, '-', '_', '.', alphanumeric at both ends"
        )
    return ""


def label_value_problem(value: str) -> str:
    if value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value)):
        return f"label value {short(value)}: at most 63 letters, digits, '-', '_', '.', alphanumeric at both ends"
    return ""


def short(value: object, limit: int = 80) -> str:
    """A value for an error message: its repr, cut to ``limit`` characters so no error echoes megabytes."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 15] + f"...({len(text)} chars)"


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
ServiceName = Annotated[str, AfterValidator(_service_name)]
Hostname = Annotated[str, AfterValidator(_hostname)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
NonEmpty = Annotated[str, AfterValidator(_non_empty)]
Quantity = Annotated[str, AfterValidator(_quantity)]
Duration = Annotated[str, AfterValidator(_duration)]
Cidr = Annotated[str, AfterValidator(_cidr)]
Image = Annotated[str, AfterValidator(_image)]
CapacityType = Literal["reserved", "spot", "on-demand"]
AmiAlias = Annotated[
    str,
    Field(
        pattern=r"^(al2023|bottlerocket)@(v\d{8}|v\d+\.\d+\.\d+)$",
        description="Pinned EC2NodeClass AMI alias, e.g. al2023@v20251016 or bottlerocket@v1.46.0 (never @latest)",
    ),
]


class Strict(BaseModel):
    """Every config model: unknown keys are errors, values are immutable once validated, strings are bounded."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, str_max_length=16_384)


# --- quantities ---------------------------------------------------------------------------------------------------

_SUFFIX = {
    "m": Decimal("0.001"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


MAX_QUANTITY = Decimal(10) ** 18


def quantity(text: str) -> Decimal:
    """Parse a Kubernetes quantity ('500m', '16Gi', '4') into a number (cores or bytes)."""
    for suffix in sorted(_SUFFIX, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * _SUFFIX[suffix]
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from None
