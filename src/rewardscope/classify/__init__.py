"""Per-atom analysis stage: patches around atoms, local lattice order, GMM clusters, region masks.

Used by the ``classify`` and ``amorphous`` workflows (:mod:`rewardscope.workflows.classify`,
:mod:`rewardscope.workflows.amorphous`).
"""
