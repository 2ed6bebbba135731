"""Configuration: one typed settings object read from ``FRAUDWATCH_*`` environment variables."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
