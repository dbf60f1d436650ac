"""Workflows: a search space, prepare/run and rewards, optimized by one generic loop."""

from rewardscope.optimize.settings import StudySettings
from rewardscope.workflows.base import Optimized, Reward, Workflow, optimize, run_workflow, study_summary

__all__ = ["Optimized", "Reward", "StudySettings", "Workflow", "optimize", "run_workflow", "study_summary"]
