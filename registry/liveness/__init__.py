"""Leases, heartbeats, expiry, self-preservation and health: pure rules and the views reads
show."""
