"""Workflows: a search space, prepare/run and rewards, optimized by one generic loop."""

from rewardscope.workflows.base import Optimized, Reward, Workflow, optimize

__all__ = ["Optimized", "Reward", "Workflow", "optimize"]
