"""rewardscope: reward-driven analysis of electron-microscopy images and movies.

The package follows one loop for every analysis (see ``DESIGN.md``)::

    image --prepare--> state --run(params)--> output --rewards--> objectives
                                  ^                                  |
                                  +-------- optimizer (Pareto) ------+

Sub-packages are grouped by stage: :mod:`rewardscope.io`, :mod:`rewardscope.physics`,
:mod:`rewardscope.simulate`, :mod:`rewardscope.detect`, :mod:`rewardscope.segment`,
:mod:`rewardscope.rewards`, :mod:`rewardscope.optimize`, :mod:`rewardscope.workflows`,
:mod:`rewardscope.track`; :mod:`rewardscope.report` (plots) and :mod:`rewardscope.cli`
sit on top and are never imported by the core.
"""

from rewardscope.errors import InputError, RewardscopeError
from rewardscope.units import Length, parse_length

__version__ = "0.1.0"

__all__ = ["InputError", "Length", "RewardscopeError", "__version__", "parse_length"]
