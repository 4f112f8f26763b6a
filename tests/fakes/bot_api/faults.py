"""Faults the stand-in Bot API can inject: exact ones (fail_next) and a seeded plan."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .common import FORBIDDEN_DESCRIPTION, NOT_MODIFIED_DESCRIPTION, BotApiError

FAULT_KINDS = frozenset(
    {"429", "5xx", "slow", "drop", "drop_after", "forbidden", "not_modified", "bad_request"}
)
"""Kinds accepted by :meth:`FakeBotApi.fail_next`.

``drop`` closes the connection before the call takes effect; ``drop_after`` lets the call take
effect (e.g. the message *is* sent) and then closes the connection without answering.
"""

ANY_METHOD = "*"

_5XX_DESCRIPTIONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class FaultPlan:
    """Probabilistic faults, deterministic for a given ``seed``.

    Every affected call draws four numbers from the plan's own RNG (slow, drop, 5xx, 429, in
    that order), so the outcome sequence depends only on the seed and the number of calls.
    "slow" may combine with one of the others; drop beats 5xx beats 429.
    """

    rate_429: float = 0.0
    retry_after: int = 1
    rate_5xx: float = 0.0
    status_5xx: int = 502
    slow_seconds: float = 0.0
    slow_rate: float = 0.0
    drop_rate: float = 0.0
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def roll(self) -> list[str]:
        r_slow, r_drop, r_5xx, r_429 = (self._rng.random() for _ in range(4))
        kinds: list[str] = []
        if self.slow_seconds > 0 and r_slow < self.slow_rate:
            kinds.append("slow")
        if r_drop < self.drop_rate:
            kinds.append("drop")
        elif r_5xx < self.rate_5xx:
            kinds.append("5xx")
        elif r_429 < self.rate_429:
            kinds.append("429")
        return kinds


@dataclass
class _ScheduledFault:
    kind: str
    remaining: int
    retry_after: int
    seconds: float
    status: int
    description: str | None


@dataclass
class _Fault:
    kind: str
    retry_after: int = 1
    seconds: float = 0.0
    status: int = 502
    description: str | None = None


class _Dropped(Exception):
    """Internal: the connection was closed without an answer."""


class Faults:
    """Which fault, if any, shapes each call: scheduled ones first, then the plans."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.plan: FaultPlan = plan or FaultPlan()  # for every method but getUpdates
        self.per_method: dict[str, FaultPlan] = {}
        self._scheduled: dict[str, list[_ScheduledFault]] = {}

    def fail_next(
        self,
        method: str,
        kind: str,
        count: int = 1,
        *,
        retry_after: int = 1,
        seconds: float = 1.0,
        status: int = 502,
        description: str | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail with ``kind`` (see FAULT_KINDS).

        ``method="*"`` targets any method except getUpdates. ``retry_after`` is used by "429",
        ``seconds`` by "slow", ``status`` by "5xx"; ``description`` overrides the error text.
        Scheduled faults for a specific method are used before "*" ones.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        self._scheduled.setdefault(method, []).append(
            _ScheduledFault(kind, count, retry_after, seconds, status, description)
        )

    def set(self, plan: FaultPlan | None, *, method: str | None = None) -> None:
        """Set the global plan (``method=None``) or a per-method plan that replaces it for
        that method. ``plan=None`` removes a per-method plan / resets the global one."""
        if method is None:
            self.plan = plan or FaultPlan()
        elif plan is None:
            self.per_method.pop(method, None)
        else:
            self.per_method[method] = plan

    def clear(self) -> None:
        self._scheduled.clear()
        self.per_method.clear()
        self.plan = FaultPlan()

    def pick(self, method: str) -> list[_Fault]:
        for key in (method, ANY_METHOD):
            if key == ANY_METHOD and method == "getUpdates":
                break
            queue = self._scheduled.get(key)
            if queue:
                scheduled = queue[0]
                scheduled.remaining -= 1
                if scheduled.remaining <= 0:
                    queue.pop(0)
                return [
                    _Fault(
                        scheduled.kind,
                        scheduled.retry_after,
                        scheduled.seconds,
                        scheduled.status,
                        scheduled.description,
                    )
                ]
        plan = self.per_method.get(method)
        if plan is None:
            if method == "getUpdates":
                return []
            plan = self.plan
        return [
            _Fault(kind, plan.retry_after, plan.slow_seconds, plan.status_5xx)
            for kind in plan.roll()
        ]

    @staticmethod
    def error(fault: _Fault) -> BotApiError:
        if fault.kind == "429":
            return BotApiError(
                429,
                fault.description or f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        if fault.kind == "5xx":
            return BotApiError(
                fault.status,
                fault.description or _5XX_DESCRIPTIONS.get(fault.status, "Internal Server Error"),
            )
        if fault.kind == "forbidden":
            return BotApiError(403, fault.description or FORBIDDEN_DESCRIPTION)
        if fault.kind == "not_modified":
            return BotApiError(400, fault.description or NOT_MODIFIED_DESCRIPTION)
        return BotApiError(400, fault.description or "Bad Request: injected failure")
