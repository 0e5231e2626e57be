"""Event-driven automated response: rules that watch the cluster and act, safely.

Sources turn cluster changes, Kubernetes Events, derived states (crash loops,
NotReady Nodes...), usage, HTTP posts, Alertmanager alerts and schedules into
:class:`Event` values; rules match them, check their CEL conditions, and run
actions through kubeops' own operations -- each action planned first, limited
(cooldown, rate, deduplication, blast radius, kill switch), recorded in the
cluster before it runs so no leader repeats it, and written to the audit log.

::

    from kubeops.respond import listener, load_rules

    @listener("server_down")            # the guide's shape: a named event calls a function
    async def fail_over(event): ...

    rules = load_rules(["rules/"])      # YAML files (and Python modules), validated whole
"""

from kubeops.respond.event import Event, ObjectRef
from kubeops.respond.model import ActionSpec, GlobalLimits, Rule, Safety, Trigger, Window
from kubeops.respond.registry import listener, rule, ruleset_from_module
from kubeops.respond.rules import RuleError, RuleSet, load_rules

__all__ = [
    "ActionSpec",
    "Event",
    "GlobalLimits",
    "ObjectRef",
    "Rule",
    "RuleError",
    "RuleSet",
    "Safety",
    "Trigger",
    "Window",
    "listener",
    "load_rules",
    "rule",
    "ruleset_from_module",
]
