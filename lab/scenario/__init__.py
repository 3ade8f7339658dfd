"""Layer 2, the scenario: pure data about a small network and what should happen on it.

The model, the loader and its validation (every bad input fails here, before anything exists),
parameters, the plan (a scenario plus the user's overrides), feasibility, Compose rendering.
No Docker here: the layers contract in pyproject.toml forbids it.
"""
