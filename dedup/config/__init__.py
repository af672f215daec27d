"""Configuration: the settings, the TOML file, environment overrides and API tokens.

- :mod:`.settings`: :class:`Settings`, every tunable declared once with its default and help;
- :mod:`.file`: :func:`load_config` reads and validates the TOML file into a :class:`Config`;
- :mod:`.env`: :func:`from_text`, the one strict text-to-type conversion of the environment;
- :mod:`.tokens`: :func:`tokens_from`, the one loader of the check service's API tokens;
- :mod:`.clients`: :class:`CdsClient`, an EHR trusted to sign CDS Hooks calls.
"""

from dedup.config.clients import CdsClient
from dedup.config.dicomweb import DicomwebSource
from dedup.config.env import ENV_PREFIX, env_overrides, from_text
from dedup.config.file import (
    PATH_SETTINGS,
    Config,
    OrthancSource,
    PathSource,
    ServiceSection,
    Source,
    describe,
    load_config,
)
from dedup.config.settings import SETTINGS, Settings, settings_table
from dedup.config.tokens import accepted_tokens, read_tokens_file, tokens_from

__all__ = [
    "ENV_PREFIX", "PATH_SETTINGS", "SETTINGS", "CdsClient", "Config", "DicomwebSource",
    "OrthancSource", "PathSource",
    "ServiceSection", "Settings", "Source", "accepted_tokens", "describe", "env_overrides",
    "from_text", "load_config", "read_tokens_file", "settings_table", "tokens_from",
]
