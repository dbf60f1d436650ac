"""Gaussian-mixture clustering of atom features and patches, and scoring clusters against known labels.

The mixture and the PCA are scikit-learn's. What is ours: fitting on the *ordered* atoms
only (so that disordered columns do not grab a component), a deterministic class numbering
(brightest class first), the species clusters of atom patches (:func:`species_clusters`),
and the Hungarian matching used by tests and benchmarks to map clusters onto species.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from rewardscope.classify.patches import mirror_symmetrize
from rewardscope.defaults import COVARIANCE_TYPES  # noqa: F401  (re-exported; AmorphousConfig reads it there)
from rewardscope.errors import ParameterError


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


def require_ordered(ordered: np.ndarray, *, classes: int, nn_px: float | None = None) -> None:
    """Raise :class:`ParameterError` when fewer than ``max(classes, 2)`` atoms are ordered (too few to cluster).

    Examples
    --------
    >>> require_ordered(np.array([True, True, False]), classes=2)
    >>> require_ordered(np.array([True, False]), classes=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rewardscope.errors.ParameterError: only 1 of 2 atoms sit in an ordered neighbourhood, too few to fit 2 ...
    """
    n = int(np.sum(ordered))
    if n < max(classes, 2):
        at = "" if nn_px is None else f" at a neighbour distance of {nn_px:.3g} px"
        raise ParameterError(f"only {n} of {len(ordered)} atoms sit in an ordered neighbourhood{at}, too few to "
                             f"fit {classes} classes; check the lattice and the pixel size")


def species_clusters(patches: np.ndarray, ordered: np.ndarray, *, classes: int, pca_components: int,
                     symmetrize: bool, n_init: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Classes of atoms from their patches (brightest class first).

    The patches (mirror-symmetrized when asked) are reduced by a PCA fitted on the ordered
    atoms and clustered by :func:`fit_clusters` fitted on them too; every atom is labelled.

    Parameters
    ----------
    patches : numpy.ndarray, shape (n, side, side)
    ordered : numpy.ndarray of bool, shape (n,)
        Atoms the PCA and the mixture are fitted on.
    classes : int
        Number of classes.
    pca_components : int
        Principal components kept (at most one fewer than the ordered atoms).
    symmetrize : bool
        Average each patch with its mirror images first.
    n_init : int
        Restarts of the mixture fit.
    seed : int

    Returns
    -------
    labels : numpy.ndarray of int, shape (n,)
    probability : numpy.ndarray, shape (n,)

    Raises
    ------
    ParameterError
        Fewer ordered atoms than classes (:func:`require_ordered`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> bright = rng.normal(2.0, 0.1, (20, 5, 5)); dim = rng.normal(1.0, 0.1, (20, 5, 5))
    >>> labels, _ = species_clusters(np.concatenate([dim, bright]), np.ones(40, bool), classes=2,
    ...                              pca_components=3, symmetrize=True, n_init=2, seed=0)
    >>> labels[:20].tolist() == [1] * 20, labels[20:].tolist() == [0] * 20
    (True, True)
    """
    from sklearn.decomposition import PCA

    require_ordered(ordered, classes=classes)
    pts = mirror_symmetrize(patches) if symmetrize else patches
    flat = pts.reshape(len(pts), -1).astype(float)
    k = max(1, min(pca_components, int(ordered.sum()) - 1, flat.shape[1]))
    feats = PCA(n_components=k, random_state=seed).fit(flat[ordered]).transform(flat)
    side = patches.shape[-1]
    c = side // 2
    brightness = patches[:, c - 1:c + 2, c - 1:c + 2].mean(axis=(1, 2))
    cl = fit_clusters(feats, classes, fit_on=ordered, brightness=brightness, n_init=n_init, seed=seed)
    return cl.labels, cl.probability


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
