"""Policy choices the law leaves open (RULES.md marks them "choice"), read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if not (0 <= value < 1000):
        raise ValueError(f"{name} is out of range: {value}")
    return value


@dataclass(frozen=True)
class Policy:
    # An open case or step is at risk when less than this share of its budget is left.
    at_risk_share: float = 0.25
    # Form 04 must be issued at least this many working days before the due instant.
    extension_notice_working_days: float = 1.0

    @classmethod
    def from_env(cls) -> Policy:
        return cls(
            at_risk_share=_float_env("ONESTOP_AT_RISK_SHARE", cls.at_risk_share),
            extension_notice_working_days=_float_env(
                "ONESTOP_EXTENSION_NOTICE_DAYS", cls.extension_notice_working_days
            ),
        )
