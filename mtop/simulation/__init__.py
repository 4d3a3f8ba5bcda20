"""Scenarios played on the simulated fleet: rollouts (canary, blue-green, rolling, shadow), load, convergence."""
