"""Data sources behind ``mtop.interfaces.Source``: the simulated fleet (mock) and ``live.LiveSource``.

Nothing is imported here on purpose: ``import mtop.sources`` stays free, and ``mtop.context`` imports
``mtop.sources.simulated`` or ``mtop.sources.live`` only when that kind of fleet is asked for.
"""
