"""Schedules: the ScheduleService handlers, spec rules, Temporal's schedule API, and the
guardian that re-checks stored inputs."""
