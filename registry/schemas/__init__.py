"""Schema versions and compatibility: what a new input schema may change."""
