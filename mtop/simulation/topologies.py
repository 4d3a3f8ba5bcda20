"""The rollout topologies by name, and the simulation layer's error: light enough for the CLI's ``--help``.

>>> canonical_topology("bluegreen")
'blue-green'
"""

from __future__ import annotations

from mtop.errors import MtopError

__all__ = [
    "ALIASES",
    "DEFAULT_STEPS",
    "DESCRIPTIONS",
    "TOPOLOGIES",
    "VERSIONS",
    "SimulationError",
    "UnknownTopologyError",
    "canonical_topology",
]

TOPOLOGIES: tuple[str, ...] = ("canary", "blue-green", "rolling", "shadow")
ALIASES = {"bluegreen": "blue-green", "blue_green": "blue-green"}
DESCRIPTIONS = {
    "canary": "shift user traffic to the new version in steps, checking its SLOs at each step",
    "blue-green": "start a full copy (green), switch all traffic at once, keep blue for instant rollback",
    "rolling": "replace replicas batch by batch (maxSurge = one batch, maxUnavailable = 0)",
    "shadow": "mirror all traffic to the new version (no user sees its answers), check it, then cut over",
}
DEFAULT_STEPS = {"canary": 4, "blue-green": 2, "rolling": 4, "shadow": 3}
"""Steps when none are given: canary weights, blue-green checks after the switch, rolling batches, shadow checks."""
VERSIONS = {"canary": ("stable", "canary"), "blue-green": ("blue", "green"), "rolling": ("old", "new"),
            "shadow": ("stable", "canary")}  # fmt: skip
"""Names of the (old, new) version of each topology."""


class SimulationError(MtopError, ValueError):
    """A simulation cannot run as asked: unknown topology or service, a bad argument, a live fleet.

    >>> isinstance(SimulationError("x"), ValueError)
    True
    """


class UnknownTopologyError(SimulationError):
    """A topology name that is not one of :data:`TOPOLOGIES`."""


def canonical_topology(name: str) -> str:
    """The topology's canonical name (``bluegreen`` -> ``blue-green``); the error lists the valid ones.

    >>> canonical_topology("Canary")
    'canary'
    >>> canonical_topology("dark-launch")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mtop.simulation.topologies.UnknownTopologyError: unknown topology 'dark-launch'; valid: canary, blue-green, ...
    """
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in TOPOLOGIES:
        raise UnknownTopologyError(f"unknown topology {name!r}; valid: {', '.join(TOPOLOGIES)}")
    return key
