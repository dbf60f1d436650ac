"""Gaussian-mixture clustering of atom features, and scoring clusters against known labels.

The mixture is scikit-learn's. What is ours: fitting on the *ordered* atoms only (so that
disordered columns do not grab a component), a deterministic class numbering (brightest
class first), and the Hungarian matching used by tests and benchmarks to map clusters
onto species.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from rewardscope.errors import ParameterError

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


@dataclass
class Clusters:
    """Cluster labels of atoms.

    Attributes
    ----------
    labels : numpy.ndarray of int, shape (n,)
    probability : numpy.ndarray, shape (n,)
        Posterior probability of the assigned cluster.
    model : sklearn.mixture.GaussianMixture
    """

    labels: np.ndarray
    probability: np.ndarray
    model: object


def fit_clusters(features: np.ndarray, n_clusters: int, *, fit_on: np.ndarray | None = None,
                 covariance_type: str = "full", brightness: np.ndarray | None = None,
                 n_init: int = 3, seed: int = 0) -> Clusters:
    """Fit a Gaussian mixture on some atoms and label all of them.

    Parameters
    ----------
    features : numpy.ndarray, shape (n, k)
    n_clusters : int
    fit_on : numpy.ndarray of bool, shape (n,), optional
        Atoms the mixture is fitted on (default all); every atom is labelled.
    covariance_type : {"full", "tied", "diag", "spherical"}
    brightness : numpy.ndarray, shape (n,), optional
        When given, clusters are renumbered by decreasing mean brightness (class 0 = brightest).
    n_init : int
        Restarts of the EM fit (best likelihood kept).
    seed : int

    Returns
    -------
    Clusters

    Raises
    ------
    ParameterError
        Fewer atoms than clusters, or an unknown covariance type.
    """
    from sklearn.mixture import GaussianMixture

    if covariance_type not in COVARIANCE_TYPES:
        raise ParameterError(f"unknown covariance type {covariance_type!r}; use one of {list(COVARIANCE_TYPES)}")
    mask = np.ones(len(features), bool) if fit_on is None else np.asarray(fit_on, bool)
    if mask.sum() < n_clusters:
        mask = np.ones(len(features), bool)
    if len(features) < max(n_clusters, 2):
        raise ParameterError(f"{len(features)} atoms cannot be split into {n_clusters} classes; "
                             f"need at least {max(n_clusters, 2)}")
    gmm = GaussianMixture(n_clusters, covariance_type=covariance_type, n_init=n_init, random_state=seed,
                          reg_covar=1e-5).fit(features[mask])
    proba = gmm.predict_proba(features)
    if brightness is not None:
        mean_b = np.array([np.average(brightness, weights=proba[:, k] + 1e-12) for k in range(n_clusters)])
        proba = proba[:, np.argsort(-mean_b)]
    labels = proba.argmax(axis=1)
    return Clusters(labels=labels, probability=proba[np.arange(len(labels)), labels], model=gmm)


def match_clusters(labels: np.ndarray, truth: np.ndarray) -> tuple[dict[int, object], float]:
    """Map clusters one-to-one onto true classes (Hungarian matching of the confusion matrix).

    Parameters
    ----------
    labels : array_like, shape (n,)
        Cluster labels.
    truth : array_like, shape (n,)
        True classes (any hashable values, e.g. species names).

    Returns
    -------
    mapping : dict
        Cluster label -> true class (clusters left unmatched are missing).
    accuracy : float
        Share of atoms whose mapped cluster equals their true class.

    Examples
    --------
    >>> match_clusters([0, 0, 1, 1, 1], ["Ba", "Ba", "Y", "Y", "Ba"])
    ({0: 'Ba', 1: 'Y'}, 0.8)
    """
    labels = np.asarray(labels)
    truth = np.asarray(truth, dtype=object)
    if len(labels) != len(truth) or len(labels) == 0:
        raise ParameterError("labels and truth must be non-empty and of equal length")
    ul, li = np.unique(labels, return_inverse=True)
    ut, ti = np.unique(truth, return_inverse=True)
    confusion = np.zeros((len(ul), len(ut)), int)
    np.add.at(confusion, (li, ti), 1)
    rows, cols = linear_sum_assignment(-confusion)
    mapping = {_plain(ul[r]): _plain(ut[c]) for r, c in zip(rows, cols)}
    correct = confusion[rows, cols].sum()
    return mapping, float(correct / len(labels))


def _plain(value: object) -> object:
    """numpy scalar -> Python scalar (for readable dicts)."""
    return value.item() if hasattr(value, "item") else value
