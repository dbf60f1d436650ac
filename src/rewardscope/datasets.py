"""Sample data: files shipped inside the package, and simulated sample files (nothing is downloaded).

- :func:`hrtem_path`, :func:`hrtem_mask_path`: a real HRTEM micrograph of nanoparticles
  (512 x 512 PNG, no calibration) and its hand-drawn mask; cite :data:`HRTEM_ATTRIBUTION`.
- :func:`sample_hrtem`: the same two as arrays.
- :func:`haadf_sample`: a simulated, calibrated HAADF-STEM TIFF written on request.
- :func:`cif_path`: a CIF shipped with :mod:`rewardscope.physics`.

Examples
--------
>>> from rewardscope.datasets import sample_hrtem
>>> image, mask = sample_hrtem()
>>> image.shape, mask.dtype
((512, 512), dtype('bool'))
"""

from __future__ import annotations

import os
import tempfile
from importlib.resources import files
from pathlib import Path

import numpy as np

from rewardscope.errors import FileFormatError, InputError

#: Citation required with the shipped HRTEM image (CC-BY-4.0).
HRTEM_ATTRIBUTION = ("Duan et al., 'Deep Learning Applications in Microscopy: Segmentation and "
                     "Tracking', Elemental Microscopy EM000004 (2024), doi:10.69761/HDTA8338, CC-BY-4.0")


def _shipped(*parts: str) -> Path:
    path = Path(str(files("rewardscope").joinpath(*parts)))
    if not path.is_file():
        raise FileFormatError(f"{'/'.join(parts)} is missing from the installed package (reinstall rewardscope)")
    return path


def hrtem_path() -> Path:
    """Path of the shipped real HRTEM micrograph (PNG, 512 x 512, uint8, no calibration).

    Returns
    -------
    Path
        Readable with :func:`rewardscope.io.read_image`; cite :data:`HRTEM_ATTRIBUTION`.

    Examples
    --------
    >>> hrtem_path().name
    'hrtem_particles.png'
    """
    return _shipped("data", "hrtem_particles.png")


def hrtem_mask_path() -> Path:
    """Path of the hand-drawn particle mask of :func:`hrtem_path` (PNG, 255 on particles).

    Examples
    --------
    >>> hrtem_mask_path().name
    'hrtem_particles_mask.png'
    """
    return _shipped("data", "hrtem_particles_mask.png")


def sample_hrtem() -> tuple[np.ndarray, np.ndarray]:
    """A real HRTEM micrograph of nanoparticles and its hand-drawn mask.

    Returns
    -------
    image : numpy.ndarray, shape (512, 512), uint8
        Grey micrograph (no calibration). Cite :data:`HRTEM_ATTRIBUTION` when showing it.
    mask : numpy.ndarray, shape (512, 512), bool
        True on particles.
    """
    from rewardscope.io import read_image

    return read_image(hrtem_path()).data, read_image(hrtem_mask_path()).data > 127


def cif_path(name: str) -> Path:
    """Path of a CIF shipped in ``rewardscope/physics/cif/`` (e.g. ``"SrTiO3.cif"``).

    Examples
    --------
    >>> cif_path("SrTiO3.cif").name
    'SrTiO3.cif'
    """
    from rewardscope.physics.cif import shipped_cif

    found = shipped_cif(name)
    if found is None:
        from rewardscope.physics.cif import shipped_cifs

        raise FileFormatError(f"no shipped CIF called {name!r}; shipped: {', '.join(shipped_cifs())}")
    return found


def _sample_name(lattice: str, pixel_size: str, size: int, noise: float, seed: int) -> str:
    name = f"{lattice}_{pixel_size}_{size}px_noise{noise:g}_seed{seed}"
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in name)
    return f"haadf_{safe}.tif"


def haadf_sample(path: str | Path | None = None, *, lattice: str = "ybco-100", pixel_size: str = "0.35A",
                 size: int = 128, noise: float = 0.1, seed: int = 0) -> Path:
    """Write a simulated HAADF-STEM image as a calibrated TIFF and return its path.

    Parameters
    ----------
    path : str or Path, optional
        Where to write it (a new ``.tif`` file; an existing file is never overwritten).
        Default: a file named after the parameters in ``<temp dir>/rewardscope-samples/``,
        written once and reused (the simulation is deterministic).
    lattice : str
        Preset of :func:`rewardscope.physics.get_lattice`.
    pixel_size : str
        Pixel size with unit, stored in the TIFF (ImageJ tags).
    size : int
        Side of the square image, pixels.
    noise : float
        Gaussian noise (standard deviation on the [0, 1] image).
    seed : int
        Random seed.

    Returns
    -------
    Path
        A float32 TIFF of shape (size, size) that :func:`rewardscope.io.read_image` reads
        with its pixel size.

    Raises
    ------
    InputError
        ``path`` exists already, or a parameter is invalid.

    Examples
    --------
    >>> from rewardscope.io import read_image
    >>> img = read_image(haadf_sample(size=64))
    >>> img.data.shape, img.pixel_size.angstrom
    ((64, 64), 0.35)
    """
    target = Path(path) if path is not None else (
        Path(tempfile.gettempdir()) / "rewardscope-samples" / _sample_name(lattice, pixel_size, size, noise, seed))
    if target.exists():
        if path is None:
            return target
        raise InputError(f"{target} exists; rewardscope does not overwrite files it did not make (choose a new path)")
    if target.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"haadf_sample writes TIFF files; give a path ending in .tif, not {target.name!r}")
    from rewardscope.io import write_tiff
    from rewardscope.simulate import simulate_haadf

    sim = simulate_haadf(lattice, pixel_size=pixel_size, size=size, noise=noise, seed=seed)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial.tif")
    write_tiff(partial, sim.image.astype(np.float32), pixel_size=sim.pixel_size)
    if path is not None and target.exists():  # appeared while simulating: leave it alone
        partial.unlink()
        raise InputError(f"{target} exists; rewardscope does not overwrite files it did not make (choose a new path)")
    partial.replace(target)
    return target
