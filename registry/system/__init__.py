"""Health and readiness (SystemService)."""
