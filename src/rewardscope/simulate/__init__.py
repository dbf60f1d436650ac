"""Simulators with exact ground truth: HAADF-STEM images and in-situ TEM movies."""

from __future__ import annotations

from rewardscope import lazy_names

#: Public name -> the module that defines it (imported on first access: importing the package is light).
_NAMES: dict[str, str] = {
    "HaadfConfig": "rewardscope.simulate.haadf_config",
    "MovieConfig": "rewardscope.simulate.movie_config",
    "SimulatedImage": "rewardscope.simulate.haadf",
    "SimulatedMovie": "rewardscope.simulate.movie",
    "simulate_haadf": "rewardscope.simulate.haadf",
    "simulate_movie": "rewardscope.simulate.movie",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = lazy_names(__name__, _NAMES)
