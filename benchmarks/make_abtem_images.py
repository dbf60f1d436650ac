"""Multislice HAADF-STEM test images made with abTEM (not with rewardscope's own simulator).

Run: ``python benchmarks/make_abtem_images.py`` (needs the ``bench`` extra: ``pip install -c
constraints.txt -e ".[bench]"``; ~25 min on 2 busy cores). Writes one ``.npz`` per image to
``benchmarks/data/abtem/`` (committed, so ``benchmarks/atoms_logstar.py`` never recomputes them)
with ``image`` (float32 counts), ``truth_xy`` (projected column positions, px, x = column),
``truth_species``, ``pixel_size_angstrom``, ``cif``, ``zone`` and the simulation settings.

Physics (abTEM 1.0): each crystal is read from its CIF (ase), oriented along its zone axis
(``ase.build.surface`` + ``abtem.orthogonalize_cell``), repeated into a periodic supercell and
given frozen phonons (Einstein model, 4 configurations, 0.08 Å rms per axis; the shipped TiO2 images:
2 configurations of a 6-layer, 17.8 Å thick cell, made with ``tio2-001 --phonon-configs 2`` to save time). The exit waves are
computed with PRISM (``abtem.SMatrix``, 200 kV, 22 mrad aperture, Lobato potentials, one slice
per atomic plane); a probe with residual aberrations (defocus 20 Å, Cs 10 µm) is scanned over the
whole supercell and an annular detector (60-130 mrad; the potential's 0.06 Å sampling reaches ~140 mrad) records the signal; a 0.5 Å (FWHM)
source size blurs it (partial spatial coherence). The supercell image is periodic and
band-limited, so it is evaluated exactly (trigonometric interpolation) on the final square pixel
grid: any pixel size, an arbitrary offset of the frame (edges cut columns anywhere, also in
half) and a small rotation. Poisson noise then gives the dose (mean counts per pixel).

Truth: the positions of the projected columns (atoms within 0.5 Å in projection merged, mean
position; columns of light atoms only, Z <= 8, are not counted, as in
:mod:`rewardscope.physics.crystal`) mapped through the same frame transform, kept when their
centre lies inside the frame.

Why ours: abTEM gives the multislice measurement of one periodic supercell; the frame
transform (offset, rotation, pixel size) and the truth table are the few lines below.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "abtem"
ENERGY_EV = 200e3
SEMIANGLE_MRAD = 22.0
DETECTOR_MRAD = (60.0, 130.0)
SOURCE_FWHM_ANGSTROM = 0.5
PHONON_CONFIGS = 4
PHONON_SIGMA_ANGSTROM = 0.08
POTENTIAL_SAMPLING_ANGSTROM = 0.06
SCAN_SAMPLING_ANGSTROM = 0.2
SIZE_PX = 256

#: name -> (CIF, zone axis, in-plane repeats of the orthogonal cell, layers along the beam,
#: pixel size Å, rotation deg, frame offset Å, doses in mean counts per pixel)
CRYSTALS = {
    "srtio3-001": ("SrTiO3.cif", (0, 0, 1), (3, 3), 8, 0.30, 0.0, (0.0, 1.95), (200, 50, 20)),
    "srtio3-110": ("SrTiO3.cif", (1, 1, 0), (2, 4), 11, 0.25, 3.0, (0.9, 0.2), (200, 50, 20)),
    "tio2-001": ("TiO2_rutile.cif", (0, 0, 1), (3, 3), 6, 0.28, -7.0, (1.15, 0.0), (200, 50, 20)),
}


def oriented_supercell(cif: str, zone: tuple[int, int, int], repeats: tuple[int, int], layers: int):
    """The crystal with ``zone`` along z (the beam), an orthogonal periodic cell, repeated in-plane."""
    import abtem
    from ase.build import surface
    from ase.io import read

    from rewardscope.physics.cif import resolve_cif

    bulk = read(resolve_cif(cif))
    slab = surface(bulk, zone, layers, periodic=True)
    cell = abtem.orthogonalize_cell(slab)
    cell.wrap()
    return cell * (repeats[0], repeats[1], 1)


def projected_columns(atoms, *, merge_angstrom: float = 0.5, light_z: int = 8) -> tuple[np.ndarray, list[str]]:
    """Visible columns of the (unperturbed) supercell: xy (Å) and a species label, periodic merge."""
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    lx, ly = atoms.cell.lengths()[:2]
    xy = atoms.positions[:, :2] % (lx, ly)
    tree = cKDTree(xy, boxsize=(lx, ly))
    pairs = tree.query_pairs(merge_angstrom, output_type="ndarray")
    from scipy.sparse import coo_matrix

    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(xy), len(xy)))
    n, label = connected_components(graph, directed=False)
    numbers, symbols = atoms.numbers, atoms.get_chemical_symbols()
    out, names = [], []
    for c in range(n):
        idx = np.flatnonzero(label == c)
        if numbers[idx].max() <= light_z:
            continue
        ref = xy[idx[0]]
        d = (xy[idx] - ref + (lx / 2, ly / 2)) % (lx, ly) - (lx / 2, ly / 2)  # periodic mean
        out.append((ref + d.mean(axis=0)) % (lx, ly))
        names.append("".join(sorted(set(symbols[i] for i in idx))))
    return np.array(out), names


def haadf_supercell(atoms, *, seed: int) -> np.ndarray:
    """PRISM HAADF image over the whole periodic supercell, shape (nx, ny) on the scan grid (abTEM order)."""
    import abtem

    abtem.config.set({"device": "cpu", "fft": "fftw"})
    frozen = abtem.FrozenPhonons(atoms, num_configs=PHONON_CONFIGS, sigmas=PHONON_SIGMA_ANGSTROM, seed=seed)
    thickness = atoms.cell.lengths()[2]
    planes = len(np.unique(np.round(atoms.positions[:, 2], 1)))
    potential = abtem.Potential(frozen, sampling=POTENTIAL_SAMPLING_ANGSTROM, projection="infinite",
                                slice_thickness=thickness / planes, parametrization="lobato")
    smatrix = abtem.SMatrix(potential=potential, energy=ENERGY_EV, semiangle_cutoff=SEMIANGLE_MRAD, interpolation=1)
    ctf = abtem.CTF(semiangle_cutoff=SEMIANGLE_MRAD, energy=ENERGY_EV,
                    aberration_coefficients={"C10": -20.0, "C30": 10e4})
    lx, ly = atoms.cell.lengths()[:2]
    gpts = (int(np.ceil(lx / SCAN_SAMPLING_ANGSTROM)), int(np.ceil(ly / SCAN_SAMPLING_ANGSTROM)))
    scan = abtem.GridScan(start=(0, 0), end=(lx, ly), gpts=gpts, endpoint=False)
    detector = abtem.AnnularDetector(inner=DETECTOR_MRAD[0], outer=DETECTOR_MRAD[1])
    measurement = smatrix.scan(scan=scan, detectors=detector, ctf=ctf).compute(progress_bar=False)
    return np.asarray(measurement.array, float)


def frame(cell_image: np.ndarray, extent: tuple[float, float], *, pixel_size: float, size: int,
          rotation_deg: float, offset: tuple[float, float], source_fwhm: float) -> tuple[np.ndarray, np.ndarray]:
    """The periodic, band-limited supercell image evaluated on a ``size``^2 grid of square pixels.

    Pixel (row i, column j) sits at ``R(rotation) @ (j, i) * pixel_size + offset`` Å in the
    supercell's frame. Returns the image (rows, cols) and the 2x3 affine map Å -> px (x, y).
    """
    lx, ly = extent
    nx, ny = cell_image.shape
    coeff = np.fft.fft2(cell_image) / (nx * ny)
    kx = np.fft.fftfreq(nx, d=lx / nx)  # 1/Å
    ky = np.fft.fftfreq(ny, d=ly / ny)
    sigma = source_fwhm / (2 * np.sqrt(2 * np.log(2)))
    coeff *= np.exp(-2 * (np.pi * sigma) ** 2 * (kx[:, None] ** 2 + ky[None, :] ** 2))
    keep = np.abs(coeff) > 1e-9 * np.abs(coeff).max()
    ix, iy = np.nonzero(keep)
    c, fx, fy = coeff[ix, iy], kx[ix], ky[iy]
    t = np.deg2rad(rotation_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    jj, ii = np.meshgrid(np.arange(size), np.arange(size))
    pts = (np.column_stack([jj.ravel(), ii.ravel()]) * pixel_size) @ rot.T + np.asarray(offset)
    out = np.empty(len(pts))
    for s in range(0, len(pts), 4096):
        p = pts[s:s + 4096]
        phase = np.exp(2j * np.pi * (p[:, :1] * fx[None, :] + p[:, 1:] * fy[None, :]))
        out[s:s + 4096] = (phase @ c).real
    to_px = np.hstack([rot.T / pixel_size, (-rot.T @ np.asarray(offset) / pixel_size)[:, None]])
    return out.reshape(size, size), to_px


def truth_in_frame(columns: np.ndarray, names: list[str], extent: tuple[float, float], to_px: np.ndarray,
                   size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every periodic image of the columns mapped to px, kept when the centre lies inside the frame."""
    lx, ly = extent
    reach = int(np.ceil(2 * size * abs(to_px[:, :2]).max() ** -1 / min(lx, ly))) + 2
    shifts = np.array([(i * lx, j * ly) for i in range(-reach, reach + 1) for j in range(-reach, reach + 1)])
    pos = (columns[None, :, :] + shifts[:, None, :]).reshape(-1, 2)
    label = np.tile(np.asarray(names), len(shifts))
    px = pos @ to_px[:, :2].T + to_px[:, 2]
    inside = (px >= -0.5).all(axis=1) & (px <= size - 0.5).all(axis=1)
    return px[inside], label[inside]


def make(name: str, *, seed: int) -> list[Path]:
    cif, zone, repeats, layers, ps, rot, offset, doses = CRYSTALS[name]
    t0 = time.perf_counter()
    atoms = oriented_supercell(cif, zone, repeats, layers)
    extent = tuple(float(v) for v in atoms.cell.lengths()[:2])
    columns, names = projected_columns(atoms)
    cell_image = haadf_supercell(atoms, seed=seed)
    t_sim = time.perf_counter() - t0
    clean, to_px = frame(cell_image, extent, pixel_size=ps, size=SIZE_PX, rotation_deg=rot, offset=offset,
                         source_fwhm=SOURCE_FWHM_ANGSTROM)
    truth, species = truth_in_frame(columns, names, extent, to_px, SIZE_PX)
    rng = np.random.default_rng(seed)
    DATA.mkdir(parents=True, exist_ok=True)
    paths = []
    for dose in doses:
        counts = rng.poisson(np.clip(clean, 0, None) * (dose / clean.mean())).astype(np.float32)
        path = DATA / f"{name}_dose{dose}.npz"
        meta = {"name": name, "cif": cif, "zone": list(zone), "repeats": list(repeats), "layers": layers,
                "thickness_angstrom": float(atoms.cell.lengths()[2]), "rotation_deg": rot,
                "offset_angstrom": list(offset), "dose_counts_per_px": dose, "energy_eV": ENERGY_EV,
                "semiangle_mrad": SEMIANGLE_MRAD, "detector_mrad": list(DETECTOR_MRAD),
                "source_fwhm_angstrom": SOURCE_FWHM_ANGSTROM, "phonon_configs": PHONON_CONFIGS,
                "phonon_sigma_angstrom": PHONON_SIGMA_ANGSTROM, "defocus_angstrom": 20.0, "cs_angstrom": 10e4,
                "simulation_seconds": round(t_sim, 1), "seed": seed}
        np.savez_compressed(path, image=counts, truth_xy=truth.astype(np.float32), truth_species=species,
                            pixel_size_angstrom=ps, meta=json.dumps(meta))
        paths.append(path)
    print(f"{name}: {len(truth)} columns, {t_sim:.0f} s multislice, {', '.join(p.name for p in paths)}", flush=True)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(CRYSTALS), help=f"crystals ({', '.join(CRYSTALS)})")
    parser.add_argument("--phonon-configs", type=int, default=PHONON_CONFIGS,
                        help=f"frozen-phonon configurations (default {PHONON_CONFIGS}; the shipped TiO2 images used 2)")
    args = parser.parse_args()
    globals()["PHONON_CONFIGS"] = args.phonon_configs
    for name in args.names:
        make(name, seed=list(CRYSTALS).index(name))


if __name__ == "__main__":
    main()
