"""Shared pieces of the config tree: the strict model base, reusable field types, and the problem type every rule
reports. Imports nothing from Pulumi (a test enforces it)."""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Iterable, Literal

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
        super().__init__(f"{len(problems)} problem(s) in the platform config{where}:\n{lines}")


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
            f"{value!r} is not a DNS-1123 label: use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit (e.g. 'llama-70b')"
        )
    return value


def _quantity(value: str | int | float) -> str:
    text = str(value)
    if not _QUANTITY.fullmatch(text):
        raise ValueError(f"{text!r} is not a Kubernetes quantity: write e.g. '500m', '4', '16Gi'")
    return text


def _duration(value: str) -> str:
    if value != "Never" and not _DURATION.fullmatch(value):
        raise ValueError(f"{value!r} is not a duration: write e.g. '30s', '10m', '720h' or 'Never'")
    return value


def _cidr(value: str) -> str:
    try:
        ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid IPv4 CIDR ({exc}); write e.g. '10.0.0.0/16'") from None
    return value


def _image(value: str) -> str:
    last = value.rsplit("/", 1)[-1]
    if "@sha256:" in value:
        return value
    if ":" not in last:
        raise ValueError(f"image {value!r} has no tag: pin one, e.g. '{value}:v1.2.3'")
    if last.endswith(":latest"):
        raise ValueError(f"image {value!r} uses 'latest': pin a version tag or a digest")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
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
    """Every config model: unknown keys are errors, values are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


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
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from None
