"""Controllers: the reconcile loop and leader election on Leases, as client-go's tools/leaderelection."""

from kubeops.controller.leader_election import (
    InvalidLeaderElectionConfig,
    LeaderElectionConfig,
    LeaderElector,
)

__all__ = ["InvalidLeaderElectionConfig", "LeaderElectionConfig", "LeaderElector"]
