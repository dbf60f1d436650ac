"""DCNN atom finder: a small U-Net trained on our simulator, its inputs, inference, peaks and training.

The network (:mod:`~rewardscope.detect.dcnn.unet`) was trained only on simulated HAADF
images resampled to one canonical pixel size (:data:`CANONICAL_PIXEL_SIZE_ANGSTROM`). With a
calibrated image we resample to that size, so the network always sees columns of the same
size in pixels; without a calibration the image is used as it is (fine for roughly
0.35-0.45 Å/px). The network reads two channels: the normalized image and its Bragg
filter (:func:`bragg_filter`, the lattice's Fourier peaks only), a periodic average that
keeps faint columns visible at noise levels where single columns are not, while the raw
channel shows where the crystal is broken (vacancies, amorphous patches). Positions are
local maxima of the probability map refined to sub-pixel precision by a three-point
log-parabola (exact for a Gaussian peak), then mapped back to the input's pixels.
``ensemble=N`` averages N dihedral test-time augmentations (flips and 90-degree
rotations) of the one shipped model and gives each atom the spread of its position over
the N views. Written here because no installed library ships an atom-finding network that
runs without a download.

One job per module:

========================  ==========================================================
``recipe``                the training recipe (:class:`TrainConfig`), free of torch
``unet``                  the network (:class:`AtomUNet`)
``model``                 weights with their scale: :class:`AtomModel`, load / save
``inputs``                what the network reads: normalization, Bragg filter, resampling
``inference``             tiling, batching, dihedral ensembles, heat maps; :func:`find_atoms_dcnn`
``peaks``                 sub-pixel peaks of heat maps, per-view spread
``training``              simulated training data and the training loop
========================  ==========================================================

The names below are imported from their module on first use, so that importing this
package (or its torch-free :mod:`~rewardscope.detect.dcnn.recipe`, which the command line
reads when it starts) does not import torch.

Examples
--------
>>> from rewardscope.detect.dcnn import DEFAULT_THRESHOLD, peak_positions
>>> DEFAULT_THRESHOLD
0.5
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> submodule that defines it.
_HOMES = {
    "TrainConfig": "recipe", "DEFAULT_CHANNELS": "recipe",
    "AtomUNet": "unet", "n_parameters": "unet",
    "AtomModel": "model", "CANONICAL_PIXEL_SIZE_ANGSTROM": "model", "load_model": "model", "save_model": "model",
    "BRAGG_RATIO": "inputs", "bragg_filter": "inputs", "network_input": "inputs", "normalize_image": "inputs",
    "resample": "inputs",
    "DcnnAtoms": "inference", "DcnnMaps": "inference", "check_batch_size": "inference", "dcnn_maps": "inference",
    "find_atoms_dcnn": "inference", "probability_map": "inference",
    "DEFAULT_THRESHOLD": "peaks", "ensemble_peaks": "peaks", "peak_positions": "peaks",
    "TrainResult": "training", "train_atom_unet": "training",
}

__all__ = sorted(_HOMES)

if TYPE_CHECKING:
    from rewardscope.detect.dcnn.inference import (DcnnAtoms, DcnnMaps, check_batch_size, dcnn_maps,
                                                   find_atoms_dcnn, probability_map)
    from rewardscope.detect.dcnn.inputs import BRAGG_RATIO, bragg_filter, network_input, normalize_image, resample
    from rewardscope.detect.dcnn.model import CANONICAL_PIXEL_SIZE_ANGSTROM, AtomModel, load_model, save_model
    from rewardscope.detect.dcnn.peaks import DEFAULT_THRESHOLD, ensemble_peaks, peak_positions
    from rewardscope.detect.dcnn.recipe import DEFAULT_CHANNELS, TrainConfig
    from rewardscope.detect.dcnn.training import TrainResult, train_atom_unet
    from rewardscope.detect.dcnn.unet import AtomUNet, n_parameters


def __getattr__(name: str) -> Any:
    """Import a public name from its submodule on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
