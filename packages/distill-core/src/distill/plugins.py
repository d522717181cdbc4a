"""The plugin host's address before distill/plugin/ held it: tests and notebooks written against
docs/plugins.md ("Testing a plugin") import `get_plugins` from here. New code: `distill.plugin.host`."""

from .plugin.host import PluginHost, PluginInfo, RegisteredVocoder, get_plugins, installed_vocoders

__all__ = ["PluginHost", "PluginInfo", "RegisteredVocoder", "get_plugins", "installed_vocoders"]
