"""What the engine decided for one rule and one event: the audit log's vocabulary."""

from __future__ import annotations

FIRED = "fired"
"""The trigger matched and every condition held; actions follow."""
SUPPRESSED = "suppressed"
"""A safety limit stopped the action; the reason names which."""
DRY_RUN = "dry-run"
"""Planned and recorded, nothing changed."""
SUCCEEDED = "succeeded"
FAILED = "failed"
OUTCOMES = (FIRED, SUPPRESSED, DRY_RUN, SUCCEEDED, FAILED)

# Why an action was suppressed.
COOLDOWN = "cooldown"
RULE_RATE = "rule-rate"
GLOBAL_RATE = "global-rate"
DEDUPLICATED = "deduplicated"
BLAST_RADIUS = "blast-radius"
PAUSED = "paused"
ALREADY_DONE = "already-done"
"""The ledger shows this action (same identity) was taken already, by this or another replica."""
REASONS = (COOLDOWN, RULE_RATE, GLOBAL_RATE, DEDUPLICATED, BLAST_RADIUS, PAUSED, ALREADY_DONE)
