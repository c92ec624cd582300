"""The kit: physical names within limits, the manifest -> resource mapping of the scope, label helpers, monitors."""

from __future__ import annotations

import pulumi_kubernetes as k8s
import pytest

from kit.k8s import resource_class
from kit.labels import MANAGED_BY, metadata, pod_security_labels
from kit.monitors import pod_monitor, prometheus_rule, service_monitor
from kit.naming import LIMITS, safe_name
from tests.conftest import validate_custom


def test_safe_name_keeps_short_names_and_cuts_long_ones_deterministically():
    assert safe_name("agentic-dev", "karpenter", limit="iam_role") == "agentic-dev-karpenter"
    long_a = safe_name("a" * 60, "karpenter-controller", limit="iam_role")
    long_b = safe_name("a" * 60, "karpenter-interrupt", limit="iam_role")
    assert len(long_a) <= LIMITS["iam_role"] and len(long_b) <= LIMITS["iam_role"]
    assert long_a != long_b and long_a == safe_name("a" * 60, "karpenter-controller", limit="iam_role")


def test_long_cluster_names_make_valid_eventbridge_rule_names():
    name = safe_name("x" * 40, "karpenter", "capacity-reservation-interruption", limit="eventbridge_rule")
    assert len(name) <= 64


@pytest.mark.parametrize(
    "api_version, module",
    [
        ("v1", k8s.core.v1),
        ("apps/v1", k8s.apps.v1),
        ("rbac.authorization.k8s.io/v1", k8s.rbac.v1),
        ("networking.k8s.io/v1", k8s.networking.v1),
        ("karpenter.sh/v1", None),
    ],
)
def test_manifests_map_to_typed_classes_or_custom_resources(api_version, module):
    assert resource_class(api_version) is module


@pytest.mark.parametrize(
    "api_version, kind, token",
    [
        ("v1", "Namespace", "kubernetes:core/v1:Namespace"),
        ("apps/v1", "Deployment", "kubernetes:apps/v1:Deployment"),
        ("networking.k8s.io/v1", "NetworkPolicy", "kubernetes:networking.k8s.io/v1:NetworkPolicy"),
        ("karpenter.sh/v1", "NodePool", "kubernetes:karpenter.sh/v1:NodePool"),
    ],
)
def test_type_tokens_are_the_providers(api_version, kind, token):
    from kit.k8s import type_token

    assert type_token(api_version, kind) == token
    if api_version in ("v1", "apps/v1"):  # the generated class registers the very same token
        module = resource_class(api_version)
        assert getattr(module, kind)._internal_init.__qualname__  # the class exists
        import inspect

        assert f"'{token}'" in inspect.getsource(
            getattr(module, kind).__init__.__wrapped__
            if hasattr(getattr(module, kind).__init__, "__wrapped__")
            else getattr(module, kind)._internal_init
        )


def test_metadata_always_carries_the_managed_by_label():
    meta = metadata("x", "ns", {"a": "b"})
    assert meta["labels"][MANAGED_BY] == "pulumi" and meta["labels"]["a"] == "b" and meta["namespace"] == "ns"
    assert pod_security_labels("restricted")["pod-security.kubernetes.io/enforce"] == "restricted"


def test_monitor_builders_validate_against_prometheus_operator_crds():
    validate_custom(service_monitor("m", "ns", {"app": "x"}, "metrics"))
    validate_custom(pod_monitor("m", "ns", {"app": "x"}, "metrics"))
    validate_custom(
        prometheus_rule(
            "r", "ns", [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "labels": {"severity": "critical"}}]}]
        )
    )
