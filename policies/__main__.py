"""The agentic-platform policy pack: ``pulumi preview --policy-pack policies``.

Every policy is a thin wrapper over a plain function in ``rules.py`` (unit-tested without the CLI and called
in-process by ``agentic plan``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import rules
from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)


def _resource_policy(rule: "rules.Rule") -> ResourceValidationPolicy:
    def validate(args, report_violation):
        for message in rule.check(args.resource_type, args.props):
            report_violation(message)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        # Mandatory by default (as in prod); policies/config.<env>.json sets each environment's levels.
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate,
    )


def _stack_policy(rule: "rules.Rule") -> StackValidationPolicy:
    def validate(args, report_violation):
        resources = [rules.Resource(r.resource_type, r.name, r.props) for r in args.resources]
        by_name = {r.name: r for r in args.resources}
        for name, message in rule.check(resources):
            report_violation(message, by_name[name].urn)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        # Mandatory by default (as in prod); policies/config.<env>.json sets each environment's levels.
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate,
    )


PolicyPack(
    name="agentic-platform",
    policies=[_stack_policy(r) if r.stack else _resource_policy(r) for r in rules.RULES],
)
