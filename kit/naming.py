"""Physical names that never break a service's length limit.

A name that fits is used as is; a longer one is cut and ends in a short hash of the whole, so two long names that
share a prefix stay distinct and the same input always gives the same name (no replacement on the next run).
"""

from __future__ import annotations

import hashlib

#: Length limits of the physical names the platform derives (AWS service quotas / API validation).
LIMITS: dict[str, int] = {
    "iam_role": 64,
    "iam_policy": 128,
    "sqs_queue": 80,
    "eventbridge_rule": 64,
    "kms_alias": 256,
    "eks_nodegroup": 63,
    "launch_template": 128,
    "ecr_repository": 256,
    "k8s_name": 253,
    "k8s_label": 63,
}


def safe_name(*parts: str, limit: int | str, sep: str = "-") -> str:
    """Join ``parts`` and fit the result in ``limit`` characters (an int or a key of :data:`LIMITS`)."""
    max_len = LIMITS[limit] if isinstance(limit, str) else limit
    name = sep.join(p for p in parts if p)
    if len(name) <= max_len:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return name[: max_len - len(digest) - 1].rstrip(sep) + sep + digest
