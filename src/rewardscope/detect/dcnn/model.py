"""Trained atom networks with the pixel size they work at: :class:`AtomModel`, loading and saving.

A weights file holds the float32 state dict of an :class:`~rewardscope.detect.dcnn.unet.AtomUNet`,
its channels, the canonical pixel size of its training images and the training recipe
(``meta``). :func:`load_model` without a path loads the weights shipped in the package
(``rewardscope/models/atoms_dcnn.pt``), once per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from rewardscope.detect.dcnn.unet import AtomUNet
from rewardscope.nn.weights import cpu_state, load_weights, save_weights

#: Pixel size (Å) the shipped network works at.
CANONICAL_PIXEL_SIZE_ANGSTROM = 0.4
#: Format tag of a rewardscope weights file.
FORMAT = "rewardscope-atom-unet-1"


@dataclass
class AtomModel:
    """A trained network with the scale it expects.

    Attributes
    ----------
    net : AtomUNet
        In eval mode.
    pixel_size_angstrom : float
        Canonical pixel size of its training images, Å.
    meta : dict
        Training recipe, loss history and timing stored with the weights.
    """

    net: AtomUNet
    pixel_size_angstrom: float = CANONICAL_PIXEL_SIZE_ANGSTROM
    meta: dict[str, Any] = field(default_factory=dict)


def save_model(model: AtomModel, path: str | Path) -> Path:
    """Write weights (float32 state dict), channels, canonical pixel size and ``meta`` to ``path``.

    Examples
    --------
    >>> import tempfile
    >>> net = AtomUNet((4, 8))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     load_model(save_model(AtomModel(net=net), Path(d) / "m.pt")).net.channels
    (4, 8)
    """
    return save_weights(path, format=FORMAT, kind="atoms-dcnn", channels=list(model.net.channels),
                        in_channels=model.net.in_channels, pixel_size_angstrom=model.pixel_size_angstrom,
                        state_dict=cpu_state(model.net), meta=model.meta)


def load_model(path: str | Path | None = None) -> AtomModel:
    """Load a saved :class:`AtomModel`; ``None`` loads the weights shipped in the package.

    Raises
    ------
    FileFormatError
        If the file is missing or not a rewardscope atom network.

    Examples
    --------
    >>> load_model().pixel_size_angstrom
    0.4
    """
    if path is None:
        return _shipped_model()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _shipped_model() -> AtomModel:
    ref = resources.files("rewardscope").joinpath("models", "atoms_dcnn.pt")
    with resources.as_file(ref) as p:
        return _load(Path(p))


def _load(path: Path) -> AtomModel:
    blob = load_weights(path, format=FORMAT, what="a rewardscope atom network")
    net = AtomUNet(blob["channels"], in_channels=int(blob.get("in_channels", 1)))
    net.load_state_dict(blob["state_dict"])
    net.eval()
    return AtomModel(net=net, pixel_size_angstrom=float(blob["pixel_size_angstrom"]), meta=blob.get("meta", {}))
