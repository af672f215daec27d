"""Configuration: the settings, the TOML file, environment overrides and API tokens."""

from dedup.config.file import (
    Config,
    OrthancSource,
    PathSource,
    ServiceSection,
    Source,
    describe,
    load_config,
)
from dedup.config.settings import SETTINGS, Settings, settings_table

__all__ = [
    "SETTINGS", "Config", "OrthancSource", "PathSource", "ServiceSection", "Settings", "Source",
    "describe", "load_config", "settings_table",
]
