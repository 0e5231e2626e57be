"""Day-to-day operations: rollouts, scaling, waiting, node maintenance, config data, RBAC tools."""
