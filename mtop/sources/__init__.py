"""Data sources behind ``mtop.interfaces.Source``: the simulated fleet (mock mode) and, later, live.

Nothing is imported here on purpose: ``import mtop.sources`` stays free, and ``mtop.context`` imports
``mtop.sources.simulated`` only when a simulated fleet is asked for.
"""
