"""Monitoring's permission codenames (one per action; checked at every door)."""

ACKNOWLEDGE_INCIDENT = "monitoring.acknowledge_driftincident"
