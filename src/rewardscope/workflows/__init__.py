"""Workflows: a search space, prepare/run and rewards, optimised by one generic loop."""

from rewardscope.workflows.base import Optimised, Reward, Workflow, optimise

__all__ = ["Optimised", "Reward", "Workflow", "optimise"]
