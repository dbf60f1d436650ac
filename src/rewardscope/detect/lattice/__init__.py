"""The known lattice as a prior of atom finding: fit it to detections, test every site, score the order.

* :mod:`~rewardscope.detect.lattice.fit`: :func:`fit_lattice` (orientation, origin, affine
  map, correction field) giving a :class:`LatticeFit`;
* :mod:`~rewardscope.detect.lattice.prior`: :func:`apply_lattice_prior` (site amplitudes,
  presence by Bayes' rule, positions shrunk towards their sites);
* :mod:`~rewardscope.detect.lattice.order`: :func:`lattice_order`, whether detections
  form the lattice at all (a plausibility check of any atom finder).
"""

from rewardscope.detect.lattice.fit import LatticeFit, fit_lattice
from rewardscope.detect.lattice.order import MIN_LATTICE_ORDER, lattice_order, min_lattice_order
from rewardscope.detect.lattice.prior import LatticePriorInfo, apply_lattice_prior

__all__ = ["MIN_LATTICE_ORDER", "min_lattice_order", "LatticeFit", "LatticePriorInfo", "apply_lattice_prior", "fit_lattice",
           "lattice_order"]
