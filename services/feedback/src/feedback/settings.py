"""Settings of the feedback service."""

from __future__ import annotations

from wom_chassis import ServiceSettings

__all__ = ["FeedbackSettings"]


class FeedbackSettings(ServiceSettings):
    """Feedback settings (case rules arrive with the feedback issue)."""

    service_name: str = "feedback"
    http_port: int = 8004
