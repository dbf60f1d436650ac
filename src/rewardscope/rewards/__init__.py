"""Reward functions: plain ``(output, context) -> float`` callables, minimised.

Examples
--------
>>> from rewardscope.rewards import ATOM_REWARDS
>>> sorted(ATOM_REWARDS)
['er', 'qc']
"""

from __future__ import annotations

from rewardscope import lazy_names

#: Public name -> the module that defines it (imported on first access: importing the package is light).
_NAMES: dict[str, str] = {
    "ATOM_REWARDS": "rewardscope.rewards.atoms",
    "ER_FACTOR": "rewardscope.rewards.atoms",
    "AtomPoints": "rewardscope.rewards.atoms",
    "AtomReward": "rewardscope.rewards.atoms",
    "AtomRewardContext": "rewardscope.rewards.atoms",
    "edge_weights": "rewardscope.rewards.atoms",
    "error_rate": "rewardscope.rewards.atoms",
    "knn_sums": "rewardscope.rewards.atoms",
    "quantity_error": "rewardscope.rewards.atoms",
    "FOREGROUND_REWARDS": "rewardscope.rewards.particles",
    "SPLIT_REWARDS": "rewardscope.rewards.particles",
    "ParticleRewardContext": "rewardscope.rewards.particles",
}

__all__ = ["ATOM_REWARDS", "ER_FACTOR", "AtomPoints", "AtomReward", "AtomRewardContext", "edge_weights", "error_rate", "knn_sums",
           "quantity_error"]

__getattr__, __dir__ = lazy_names(__name__, _NAMES)
