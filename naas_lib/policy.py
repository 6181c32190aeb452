"""Access rules, enforced inside the service with oslo.policy.

In-process callers (Nova) and the REST API get the same answers because the
rules are checked here, not in the API layer. The defaults are documented
below and may be overridden by the file named in ``[oslo_policy]
policy_file``. A refused ``get`` is reported by the service as "not found",
so another project's private resources do not reveal that they exist.
"""

from __future__ import annotations

import time
from typing import Any

from oslo_config import cfg
from oslo_policy import policy

ADMIN = "role:admin or is_admin:True"

_base_rules = [
    policy.RuleDefault("context_is_admin", ADMIN, description="Admin: the admin role."),
    policy.RuleDefault("owner", "project_id:%(project_id)s",
                       description="The caller's project owns the resource."),
    policy.RuleDefault("admin_or_owner", "rule:context_is_admin or rule:owner",
                       description="Admin or the owning project."),
    policy.RuleDefault("shared", "'True':%(shared)s",
                       description="The resource is (on) a shared network."),
    policy.RuleDefault("network_owner", "project_id:%(network_project_id)s",
                       description="The caller's project owns the resource's network."),
    policy.RuleDefault("admin_or_network_owner", "rule:context_is_admin or rule:network_owner",
                       description="Admin or the owner of the resource's network."),
]


def _op(name: str, rule: str, description: str, method: str,
        path: str) -> policy.DocumentedRuleDefault:
    return policy.DocumentedRuleDefault(
        name=name, check_str=rule, description=description,
        operations=[{"method": method, "path": path}],
    )


_resource_rules = [
    _op("create_network", "", "Create a network.", "POST", "/networks"),
    _op("create_network:shared", "rule:context_is_admin", "Create a shared network.",
        "POST", "/networks"),
    _op("create_network:provider", "rule:context_is_admin",
        "Set provider attributes (network_type, segmentation_id, physical_network).",
        "POST", "/networks"),
    _op("get_network", "rule:admin_or_owner or rule:shared", "Show a network.",
        "GET", "/networks/{id}"),
    _op("update_network", "rule:admin_or_owner", "Update a network.", "PUT", "/networks/{id}"),
    _op("update_network:shared", "rule:context_is_admin", "Change the shared flag.",
        "PUT", "/networks/{id}"),
    _op("delete_network", "rule:admin_or_owner", "Delete a network.",
        "DELETE", "/networks/{id}"),
    _op("create_subnet", "rule:admin_or_network_owner", "Create a subnet.", "POST", "/subnets"),
    _op("get_subnet", "rule:admin_or_owner or rule:shared", "Show a subnet.",
        "GET", "/subnets/{id}"),
    _op("update_subnet", "rule:admin_or_network_owner", "Update a subnet.",
        "PUT", "/subnets/{id}"),
    _op("delete_subnet", "rule:admin_or_network_owner", "Delete a subnet.",
        "DELETE", "/subnets/{id}"),
    _op("create_port", "rule:admin_or_network_owner or rule:shared", "Create a port.",
        "POST", "/ports"),
    _op("create_port:binding", "rule:context_is_admin",
        "Set binding attributes (binding_host_id, binding_profile) of a port.",
        "POST", "/ports"),
    _op("get_port", "rule:admin_or_owner", "Show a port.", "GET", "/ports/{id}"),
    _op("update_port", "rule:admin_or_owner", "Update a port.", "PUT", "/ports/{id}"),
    _op("update_port:binding", "rule:context_is_admin",
        "Change binding attributes of a port.", "PUT", "/ports/{id}"),
    _op("delete_port", "rule:admin_or_owner", "Delete a port.", "DELETE", "/ports/{id}"),
    _op("attach_port", "rule:admin_or_owner", "Attach an interface to a port.",
        "PUT", "/ports/{id}"),
    _op("detach_port", "rule:admin_or_owner", "Detach the interface of a port.",
        "PUT", "/ports/{id}"),
    _op("create_security_group", "", "Create a security group.", "POST", "/security-groups"),
    _op("get_security_group", "rule:admin_or_owner", "Show a security group.",
        "GET", "/security-groups/{id}"),
    _op("update_security_group", "rule:admin_or_owner", "Update a security group.",
        "PUT", "/security-groups/{id}"),
    _op("delete_security_group", "rule:admin_or_owner", "Delete a security group.",
        "DELETE", "/security-groups/{id}"),
    _op("create_security_group_rule", "rule:admin_or_owner",
        "Add a rule to a security group.", "POST", "/security-group-rules"),
    _op("get_security_group_rule", "rule:admin_or_owner", "Show a security group rule.",
        "GET", "/security-group-rules/{id}"),
    _op("delete_security_group_rule", "rule:admin_or_owner", "Delete a security group rule.",
        "DELETE", "/security-group-rules/{id}"),
    _op("create_service", "", "Register a higher-layer service.", "POST", "/services"),
    _op("get_service", "rule:admin_or_owner", "Show a service.", "GET", "/services/{id}"),
    _op("delete_service", "rule:admin_or_owner", "Remove a service.",
        "DELETE", "/services/{id}"),
    _op("associate_service", "rule:admin_or_owner",
        "Associate a service with a network the caller may use.", "POST", "/services/{id}"),
    _op("disassociate_service", "rule:admin_or_owner",
        "Remove a service's association with a network.", "DELETE",
        "/services/{id}/networks/{network_id}"),
]


def list_rules() -> list[policy.RuleDefault]:
    """Every default rule (entry point ``oslo.policy.policies``)."""
    return _base_rules + _resource_rules


class Enforcer:
    """A per-service enforcer: no global state, its own config."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._enforcer = policy.Enforcer(conf)
        self._enforcer.register_defaults(list_rules())
        self._decisions: dict[tuple, bool] = {}
        self._rules_seen: object = None
        self._next_reload = 0.0

    def check(self, rule: str, target: dict[str, Any], credentials: dict[str, Any]) -> bool:
        """Decide ``rule``; decisions are remembered until the rules (file) change.

        oslo.policy spends about a millisecond per decision here, on the hot
        path of every call; targets and credentials are small flat values,
        so identical questions get the remembered answer.
        """
        now = time.monotonic()
        if now >= self._next_reload:
            # oslo.policy looks for a changed policy file on each load (a stat
            # per directory); once a second is soon enough for an operator.
            self._enforcer.load_rules()
            self._next_reload = now + 1.0
        if self._enforcer.rules is not self._rules_seen:
            self._decisions.clear()
            self._rules_seen = self._enforcer.rules
        key = (rule, _freeze(target), _freeze(credentials))
        decision = self._decisions.get(key)
        if decision is None:
            decision = bool(self._enforcer.enforce(rule, target, credentials, do_raise=False))
            if len(self._decisions) > 10000:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision


def _freeze(d: dict[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in d.items()))
