"""Reward functions: plain ``(output, context) -> float`` callables, minimised.

Examples
--------
>>> from rewardscope.rewards import ATOM_REWARDS
>>> sorted(ATOM_REWARDS)
['er', 'qc']
"""

from rewardscope.rewards.atoms import (ATOM_REWARDS, ER_FACTOR, AtomReward, AtomRewardContext, error_rate,
                                       knn_sums, quantity_error)
from rewardscope.rewards.particles import (FOREGROUND_REWARDS, SPLIT_REWARDS,  # noqa: F401
                                           ParticleRewardContext)

__all__ = ["ATOM_REWARDS", "ER_FACTOR", "AtomReward", "AtomRewardContext", "error_rate", "knn_sums",
           "quantity_error"]
