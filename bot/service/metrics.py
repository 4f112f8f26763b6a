"""Prometheus metrics for deployers (``GET /metrics`` on the health port when enabled).

Counts and timings only: no label ever carries a parent's id, name or words.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE  # noqa: F401 - re-exported
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        # A registry of our own: several bots (tests) in one process must not collide.
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "babyloss_updates", "Updates from parents handled", registry=self.registry
        )
        self.steps = Counter("babyloss_steps", "Dialogue steps taken", registry=self.registry)
        self.errors = Counter("babyloss_errors", "Updates that failed", registry=self.registry)
        self.crisis = Counter(
            "babyloss_crisis_replies", "Crisis replies sent", registry=self.registry
        )
        self.safety_checks = Counter(
            "babyloss_safety_checks",
            "Times the safety net asked a parent directly whether they were safe",
            registry=self.registry,
        )
        self.reminders = Counter(
            "babyloss_reminders", "Reminders by outcome", ["outcome"], registry=self.registry
        )
        self.step_seconds = Histogram(
            "babyloss_step_seconds",
            "Time from receiving an update to the last reply sent",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
