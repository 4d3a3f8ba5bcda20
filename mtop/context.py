"""``connect()``: the one place where mtop decides between the simulated fleet and a live cluster.

Everything above this module receives a :class:`Fleet` (a source plus the configuration) and never
asks which mode it is in. ``connect()`` also wires the DI container: a fresh container per fleet,
with the recorded ``@singleton``/``@factory`` bindings installed and the fleet's config, source and
logger registered, so ``inject(Config)`` resolves against the fleet in use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta  # noqa: F401 (UTC: doctests)
from typing import Any

from mtop.config import Config, load_config
from mtop.container import Container, install_bindings, set_current
from mtop.errors import MtopError
from mtop.interfaces import FileSystem, Logger, Source

__all__ = ["Fleet", "connect", "default_fleet", "reset_default_fleet"]

ClockArg = Callable[[], datetime] | str | None


@dataclass
class Fleet:
    """A data source with the configuration it is read with: what every collector receives.

    >>> fleet = connect(seed=1, clock="frozen", start=datetime(2026, 1, 1, tzinfo=UTC))
    >>> fleet.now().isoformat()
    '2026-01-01T00:00:00+00:00'
    """

    source: Source
    config: Config
    container: Container = field(repr=False, compare=False, default_factory=Container)

    @property
    def mode(self) -> str:
        """``"mock"`` for the simulated fleet, ``"live"`` for a cluster (for display only)."""
        return "mock" if self.source.kind == "simulated" else "live"

    def now(self) -> datetime:
        """The source's current time (simulated time for the simulated fleet)."""
        return self.source.now()

    def advance(self, delta: timedelta) -> None:
        """Move a simulated fleet's clock forward; a live fleet follows the wall clock.

        >>> fleet = connect(seed=1, clock="frozen", start=datetime(2026, 1, 1, tzinfo=UTC))
        >>> fleet.advance(timedelta(minutes=5)); fleet.now().minute
        5
        """
        advance = getattr(self.source, "advance", None)
        if advance is None:
            raise MtopError(f"the {self.source.kind} source follows the wall clock and cannot be advanced")
        advance(delta)


def connect(
    mode: str | None = None,
    *,
    config: Config | None = None,
    config_path: str | None = None,
    seed: int = 0,
    services: int | None = None,
    start: datetime | None = None,
    clock: ClockArg = None,
    source: Source | None = None,
    env: Mapping[str, str] | None = None,
    **live_options: Any,
) -> Fleet:
    """Connect to a fleet: the simulated one (default) or a live cluster.

    The mode comes from ``mode``, else the configuration (``MTOP_MODE`` / ``LLD_MODE`` / the file),
    else ``mock``. Simulator options: ``seed``, ``services`` (fleet size), ``start`` and ``clock``
    (``"wall"``, ``"frozen"`` or a callable returning a UTC datetime). Live options (keywords, over
    ``config.live``): ``kubeconfig``, ``context`` or ``contexts=[...]`` (several clusters, a ``cluster``
    column), ``in_cluster``, ``namespaces``, ``prometheus_url`` and its credentials, ``allow_stale``,
    ``progress``, ... (all in ``mtop.sources.live.LIVE_OPTIONS``; see ``connect_live``).

    >>> connect(seed=3, clock="frozen").mode
    'mock'
    """
    cfg = config if config is not None else load_config(config_path, env=env)
    chosen = (mode or cfg.mode or "mock").lower()
    if source is None:
        source = _make_source(chosen, cfg, seed=seed, services=services, start=start, clock=clock, **live_options)
    fleet = Fleet(source=source, config=cfg, container=_wire(source, cfg))
    return fleet


def _make_source(mode: str, cfg: Config, *, seed: int, services: int | None, start: datetime | None,
                 clock: ClockArg, **live_options: Any) -> Source:  # fmt: skip
    if mode == "mock":
        from mtop.sources.overlay import OverlayStore
        from mtop.sources.simulated import SimulatedFleet

        # The workspace overlay of `mtop create/delete` ($MTOP_WORKSPACE); workspace=False: the seeded fleet only.
        workspace = live_options.get("workspace")
        overlay = None if workspace is False else OverlayStore.default(workspace)
        return SimulatedFleet(cfg, seed=seed, services=services, start=start, clock=clock,  # type: ignore[arg-type]
                              overlay=overlay)  # fmt: skip
    if mode == "live":
        # Options: mtop.sources.live.LIVE_OPTIONS (kubeconfig, context, contexts, prometheus_url, ...).
        from mtop.sources.live import connect_live

        return connect_live(cfg, **live_options)
    raise MtopError(f"unknown mode {mode!r}: expected 'mock' or 'live'")


def _wire(source: Source, cfg: Config) -> Container:
    from mtop.files import LocalFileSystem
    from mtop.logging import StdLogger

    container = Container()
    install_bindings(container)
    container.register_singleton(Config, cfg)
    container.register_singleton(Source, source)
    container.register_singleton(Logger, StdLogger("mtop"))
    container.register_singleton(FileSystem, LocalFileSystem())
    return container


_default: Fleet | None = None
_default_lock = threading.Lock()


def default_fleet() -> Fleet:
    """The fleet collectors use when called with no argument: ``connect()``, made once.

    >>> default_fleet() is default_fleet()
    True
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = connect()
            # inject(T) defaults resolve against the current container: make it the default fleet's.
            set_current(_default.container)
        return _default


def reset_default_fleet() -> None:
    """Forget the default fleet (tests, or after changing the environment).

    >>> reset_default_fleet()
    """
    global _default
    with _default_lock:
        _default = None
