"""The configured limits on what one request may ask for (Settings.max_*), checked where input arrives."""

from backend.config import Settings
from backend.errors import LimitExceeded


def enforce(settings: Settings, setting: str, value: int, what: str) -> None:
    """Raise LimitExceeded, naming `what` and the setting, if `value` exceeds the setting's limit."""
    limit: int = getattr(settings, setting)
    if value > limit:
        raise LimitExceeded(what, value, limit, setting)
