"""The keys every network source shares: its name, address and how its requests are retried."""

from __future__ import annotations

from dataclasses import dataclass

from dedup.config.settings import setting


@dataclass(frozen=True, slots=True)
class RemoteSource:
    """A server whose new instances are pulled to the spool; subclasses add their own keys."""

    name: str = setting("", "Unique name of the source (letters, digits, '-' and '_').")
    type: str = setting("", "The kind of server.")
    url: str = setting("", "Base URL of the server.")
    timeout: float = setting(30.0, "Seconds a connect or a read may stall before it is retried.")
    retries: int = setting(4, "Attempts per request before that request counts as failed.")
    backoff: float = setting(1.0, "Delay before the first retry in seconds; doubles per attempt.")
    backoff_max: float = setting(30.0, "Longest delay between retries in seconds.")
