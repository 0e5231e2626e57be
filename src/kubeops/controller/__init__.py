"""Controllers: the reconcile loop and leader election on Leases, as client-go's tools/leaderelection."""

from kubeops.controller.elected import LeaseSettings, run_elected, stand_for_election
from kubeops.controller.leader_election import (
    InvalidLeaderElectionConfig,
    LeaderElectionConfig,
    LeaderElector,
)
from kubeops.controller.reconciler import Controller, Request, Result

__all__ = [
    "Controller",
    "InvalidLeaderElectionConfig",
    "LeaderElectionConfig",
    "LeaderElector",
    "LeaseSettings",
    "Request",
    "Result",
    "run_elected",
    "stand_for_election",
]
