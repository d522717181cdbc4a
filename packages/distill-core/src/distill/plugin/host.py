"""Finding and loading plugins: entry points of the `distill` group, each inside its own guard.

Plugins load only when a command needs them. A plugin that fails to import or whose hook raises
is recorded (shown by `distill plugins`) with one warning line on stderr, and everything else goes
on working. `DISTILL_LOAD_PLUGINS` limits what loads: unset loads all, empty loads none, a comma
list loads only the named distributions (or entry-point names).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from ..melspec import MelSpec
from . import hookspecs
from .contract import KINDS, VocoderBase

if TYPE_CHECKING:
    import click

ENTRY_POINT_GROUP = "distill"
LOAD_PLUGINS_ENV = "DISTILL_LOAD_PLUGINS"
_VOCODER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@attrs.define
class PluginInfo:
    name: str  # the entry point's name
    distribution: str
    version: str
    hooks: list[str] = attrs.field(factory=list)
    errors: list[str] = attrs.field(factory=list)

    @property
    def status(self) -> str:
        return "error" if self.errors else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": self.hooks,
            "status": self.status,
            "errors": self.errors,
        }


@attrs.frozen
class RegisteredVocoder:
    backend: type[VocoderBase]
    plugin: PluginInfo

    @property
    def name(self) -> str:
        return self.backend.name


class PluginHost:
    """The plugins of one process, loaded once for a given DISTILL_LOAD_PLUGINS value."""

    def __init__(self, allowed: set[str] | None, warn: Callable[[str], None]) -> None:
        self.manager = pluggy.PluginManager("distill")
        self.manager.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._warn = warn
        self._vocoders: dict[str, RegisteredVocoder] | None = None
        self._commands: click.Group | None = None
        for entry_point in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=_ep_sort_key):
            dist = entry_point.dist
            info = PluginInfo(
                name=entry_point.name,
                distribution=dist.name if dist else "(unknown)",
                version=dist.version if dist else "",
            )
            if allowed is not None and not {_normalise(info.name), _normalise(info.distribution)} & allowed:
                continue
            if info.name in self.plugins:
                continue  # the same distribution visible twice on sys.path
            self.plugins[info.name] = info
            try:
                module = entry_point.load()
                self.manager.register(module, name=info.name)
            except Exception as exc:  # a broken plugin must never take the CLI down
                self._fail(info, "import", exc)
                continue
            info.hooks = sorted(caller.name for caller in self.manager.get_hookcallers(module) or [])

    def _fail(self, info: PluginInfo, stage: str, exc: BaseException) -> None:
        message = f"{stage} failed: {type(exc).__name__}: {exc}"
        info.errors.append(message)
        if len(info.errors) > 1:
            return  # one warning line per plugin; `distill plugins` lists every error
        self._warn(
            f"distill: warning: plugin {info.name!r} ({info.distribution} {info.version}) {message}"
            f" (see `distill plugins`; {LOAD_PLUGINS_ENV} can skip it)"
        )

    def register(self, plugin: object, name: str) -> None:
        """Register a module or object holding hook implementations in-process (tests, notebooks,
        an application embedding distill), as if an installed package provided it."""
        self.plugins[name] = PluginInfo(name=name, distribution="(in-process)", version="")
        self.manager.register(plugin, name=name)
        self.plugins[name].hooks = sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or [])
        self._vocoders = self._commands = None  # listings are rebuilt with the new plugin

    def _call_each(self, hook_name: str, **kwargs: Any) -> None:
        """Call one hook on every plugin separately, so one plugin's exception spares the others.
        Each implementation gets only the arguments it declares (pluggy's contract), so a hook can
        gain an argument without breaking the plugins written before it."""
        for impl in getattr(self.manager.hook, hook_name).get_hookimpls():
            self._call_one(impl, hook_name, **kwargs)

    def _call_one(self, impl: Any, hook_name: str, **kwargs: Any) -> None:
        try:
            impl.function(**{name: kwargs[name] for name in impl.argnames})
        except Exception as exc:
            self._fail(self.plugins[impl.plugin_name], hook_name, exc)

    def vocoders(self) -> dict[str, RegisteredVocoder]:
        """Every registered backend by name, after validating what each plugin registered."""
        if self._vocoders is None:
            found: dict[str, RegisteredVocoder] = {}
            current: list[PluginInfo] = []

            def register(backend: type[VocoderBase]) -> None:
                problem = _check_backend(backend)
                if problem is None and backend.name in found:
                    owner = found[backend.name].plugin.distribution
                    problem = f"vocoder name {backend.name!r} is already taken by {owner}"
                if problem:
                    raise TypeError(problem)
                found[backend.name] = RegisteredVocoder(backend, current[0])

            for impl in self.manager.hook.register_vocoders.get_hookimpls():
                current[:] = [self.plugins[impl.plugin_name]]
                self._call_one(impl, "register_vocoders", register=register)
            self._vocoders = dict(sorted(found.items()))
        return self._vocoders

    def commands(self) -> click.Group:
        """A group holding every command that plugins added."""
        if self._commands is None:
            import click

            self._commands = click.Group("plugin-commands")
            self._call_each("register_commands", cli=self._commands)
        return self._commands


def _ep_sort_key(entry_point: importlib.metadata.EntryPoint) -> str:
    return entry_point.name


def _check_backend(backend: object) -> str | None:
    if not (isinstance(backend, type) and issubclass(backend, VocoderBase)):
        return f"register() takes a VocoderBase subclass, got {backend!r}"
    name = getattr(backend, "name", None)
    if not isinstance(name, str) or not _VOCODER_NAME.match(name):
        return f"{backend.__name__}.name must be a lowercase name like 'my-vocoder', got {name!r}"
    if getattr(backend, "kind", None) not in KINDS:
        return f"{backend.__name__}.kind must be one of {KINDS}"
    if not isinstance(getattr(backend, "mel_spec", None), MelSpec):
        return f"{backend.__name__}.mel_spec must be a distill.MelSpec"
    if backend.__abstractmethods__:
        return f"{backend.__name__} does not implement {sorted(backend.__abstractmethods__)}"
    return None


def _stderr_warning(message: str) -> None:
    print(message, file=sys.stderr)


_hosts: dict[str | None, PluginHost] = {}


def get_plugins() -> PluginHost:
    """The process's plugin host for the current DISTILL_LOAD_PLUGINS value, loading it on first use."""
    setting = os.environ.get(LOAD_PLUGINS_ENV)
    if setting not in _hosts:
        allowed = None if setting is None else {_normalise(n.strip()) for n in setting.split(",") if n.strip()}
        _hosts[setting] = PluginHost(allowed, warn=_stderr_warning)
    return _hosts[setting]


def installed_vocoders() -> dict[str, RegisteredVocoder]:
    return get_plugins().vocoders()
