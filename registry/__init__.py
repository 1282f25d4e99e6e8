"""temporal-registry: registry, dispatch gateway and scheduler for Temporal workers."""
