"""Simulators with exact ground truth: HAADF-STEM images and in-situ TEM movies."""

from rewardscope.simulate.haadf import HaadfConfig, SimulatedImage, simulate_haadf
from rewardscope.simulate.movie import MovieConfig, SimulatedMovie, simulate_movie

__all__ = ["HaadfConfig", "MovieConfig", "SimulatedImage", "SimulatedMovie", "simulate_haadf", "simulate_movie"]
