"""Alert policy and notifiers.

A judgement becomes an alert only when the post is on-target, the model says threat or
incitement, and the score reaches the target's threshold. The store de-duplicates (one alert
per post and target; re-posts of the same text are grouped under the first). Notifiers are
called after the alert is safely stored, so a failed delivery never loses the alert.
"""

from __future__ import annotations

from typing import Protocol

from .config import Target
from .judge.base import Judgement
from .store.sql import AlertRow


def should_alert(j: Judgement, target: Target | None) -> bool:
    """The alert rule. Off-target posts never alert, whatever their words."""
    if target is None or not j.on_target or j.threat == "none":
        return False
    return j.threat_score >= target.threshold


class Notifier(Protocol):
    """Something told about each new alert (webhook, email...). Must not raise."""

    name: str

    def notify(self, alert: AlertRow) -> None: ...
