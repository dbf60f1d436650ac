"""Simulators with exact ground truth: HAADF-STEM images and in-situ TEM movies."""

from rewardscope.simulate.haadf import HaadfConfig, SimulatedImage, simulate_haadf

__all__ = ["HaadfConfig", "SimulatedImage", "simulate_haadf"]
