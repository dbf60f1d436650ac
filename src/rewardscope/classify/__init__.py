"""Per-atom analysis stage: atom tables, patches around atoms, local lattice order, GMM clusters, region masks.

* :mod:`~rewardscope.classify.table`: read and check atom tables (``x``, ``y`` in pixels);
* :mod:`~rewardscope.classify.patches`: patch windows and patches centred on atoms;
* :mod:`~rewardscope.classify.order`: neighbour distance and lattice deviation of each atom;
* :mod:`~rewardscope.classify.clusters`: species clusters of patches, cluster matching;
* :mod:`~rewardscope.classify.mask`: the pixel mask of a set of atoms.

Used by the ``classify`` and ``amorphous`` workflows (:mod:`rewardscope.workflows.classify`,
:mod:`rewardscope.workflows.amorphous`).
"""
