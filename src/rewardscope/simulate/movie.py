"""Simulated in-situ TEM movies of supported nanoparticles, with exact ground truth.

A bright-field HRTEM-like movie: an amorphous support (band-limited speckle) carrying
nanoparticles that are darker than the support and show lattice fringes. The stage
drifts smoothly with occasional jumps; particles grow, ripen (Ostwald: large ones grow
at the expense of small ones, which dissolve) and coalesce when they touch; Gaussian
noise is added. The truth is exact because every frame is rendered from the model:
the support is shifted in Fourier space (exact sub-pixel shift of a band-limited
periodic field), and particles are drawn analytically at their sub-pixel positions.

Truth returned: per-frame label masks (track ids), the stage shift of every frame, a
track table (one row per particle per frame), a lineage table and the merge events, in
the convention of :mod:`rewardscope.track.linking` (what ``rewardscope track`` writes): a
merge ENDS its parent tracks and STARTS a new track whose parents are listed
space-separated (``"3 7"``); an event's frame is the child's first frame. Particles that
touch in the same frame as a merge join that merge: three particles fusing in one frame
are ONE merge with three parents, never successive merges through a child that would
exist for no frame.

Options for harder movies (:data:`HARD`): planted pairs and triples of particles that
approach each other and merge (``merge_pairs``, ``merge_triples``), particles gliding
across the field of view's edge (``crossing``: half enter, half leave), low dose
(Poisson counts per pixel instead of Gaussian noise, ``dose``), frame-to-frame
brightness flicker (``flicker``) and faster Brownian motion (``diffusion``).

Written here because no library simulates drifting, ripening particle movies with
labelled truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.errors import ParameterError
from rewardscope.units import Length, parse_length
from rewardscope.simulate.movie_config import MovieConfig  # noqa: F401  (re-exported)

#: Lattice plane spacing drawn as fringes (Au {111}), in ångström.
FRINGE_SPACING_ANGSTROM = 2.355


#: The hard-movie options (low dose, flicker, fast Brownian motion, particles crossing the edge).
HARD: dict[str, Any] = {"dose": 40.0, "flicker": 0.04, "diffusion": 0.45, "crossing": 6, "noise": 0.0}


@dataclass
class SimulatedMovie:
    """A simulated movie and its ground truth.

    Attributes
    ----------
    movie : numpy.ndarray, shape (frames, rows, cols), float32
        The frames, roughly in [0, 1].
    masks : numpy.ndarray, shape (frames, rows, cols), uint16
        Label image per frame; the label is the particle's ``track_id`` (0 = support).
    shifts : pandas.DataFrame
        ``frame, dx, dy, jump``: displacement (px, x = column) of the frame content relative
        to frame 0 (content at p in frame 0 is at p + (dx, dy) in frame i); ``jump`` is True
        on frames reached by a stage jump.
    tracks : pandas.DataFrame
        ``frame, track_id, x, y, radius_px, area_px, area_nm2, equivalent_diameter_nm,
        touches_border``: one row per particle visible in a frame; x, y are the true centre
        in frame pixels, ``area_px`` the pixel count of its label in ``masks``.
    events : pandas.DataFrame
        ``frame, event, parents, child, gap_px``: one row per merge (``event`` =
        ``"merge"``, parents space-separated ``"a b"`` or ``"a b c"`` -> child), frame =
        the child's first frame; only tracks seen in the movie count as parents, and a
        merge needs two of them; ``gap_px`` is the parents' smallest edge-to-edge
        distance in the frame before the merge.
    lineage : pandas.DataFrame
        ``track_id, start, end, parents, fate``: first and last frame seen, parents
        space-separated ("" if none), ``fate`` = ``merged``, ``dissolved`` or ``""`` (still
        there at the end, or gone out of the field of view).
    pixel_size : Length
    config : MovieConfig
    """

    movie: np.ndarray
    masks: np.ndarray
    shifts: pd.DataFrame
    tracks: pd.DataFrame
    events: pd.DataFrame
    pixel_size: Length
    config: MovieConfig
    summary: dict[str, Any] = field(default_factory=dict)
    lineage: pd.DataFrame = field(default_factory=pd.DataFrame)

    def save(self, folder: str | Path) -> Path:
        """Write ``movie.tif``, ``truth_masks.tif`` and the truth tables into ``folder``."""
        from rewardscope.io import write_json, write_table, write_tiff

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_tiff(folder / "movie.tif", self.movie, pixel_size=self.pixel_size)
        write_tiff(folder / "truth_masks.tif", self.masks, pixel_size=self.pixel_size)
        write_table(folder / "truth_shifts.csv", self.shifts)
        write_table(folder / "truth_tracks.csv", self.tracks)
        write_table(folder / "truth_events.csv", self.events)
        write_table(folder / "truth_lineage.csv", self.lineage)
        write_json(folder / "summary.json", {"config": self.config.model_dump(), **self.summary})
        return folder


# --------------------------------------------------------------------------- stage


def _stage_path(cfg: MovieConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Content displacement (frames, 2) as (dx, dy) and the jump flags (frames,)."""
    n = cfg.frames
    angle = rng.uniform(0, 2 * np.pi)
    steps = np.zeros((n, 2))
    jumps = np.zeros(n, dtype=bool)
    for i in range(1, n):
        angle += rng.normal(0.0, 0.15)
        steps[i] = cfg.drift_speed * np.array([np.cos(angle), np.sin(angle)]) + rng.normal(0, 0.05 * cfg.drift_speed, 2)
        if rng.random() < cfg.jump_probability and cfg.jump_size > 0:
            phi = rng.uniform(0, 2 * np.pi)
            steps[i] += cfg.jump_size * rng.uniform(0.5, 1.5) * np.array([np.cos(phi), np.sin(phi)])
            jumps[i] = True
    return np.cumsum(steps, axis=0), jumps


# --------------------------------------------------------------------------- support


def _support_spectrum(shape: tuple[int, int], pixel_size_a: float, rng: np.random.Generator) -> np.ndarray:
    """rfft2 of a zero-mean, unit-std speckle field (amorphous film, ~3.5 A grain)."""
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    k = np.hypot(ky, kx)
    k0 = min(pixel_size_a / 3.5, 0.3)  # speckle frequency, cycles per pixel (below Nyquist)
    envelope = np.exp(-(((k - k0) / (0.45 * k0)) ** 2)) + 0.6 * np.exp(-((k / (0.2 * k0)) ** 2))
    envelope[0, 0] = 0.0
    spec = np.fft.rfft2(rng.standard_normal(shape)) * envelope
    field_ = np.fft.irfft2(spec, s=shape)
    return spec / field_.std()


def _shifted_support(spec: np.ndarray, shape: tuple[int, int], origin: np.ndarray, size: int) -> np.ndarray:
    """Crop (size, size) of the periodic support, taken at sub-pixel world ``origin`` (x, y)."""
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    ramp = np.exp(2j * np.pi * (ky * origin[1])) * np.exp(2j * np.pi * (kx * origin[0]))
    return np.fft.irfft2(spec * ramp, s=shape)[:size, :size]


# --------------------------------------------------------------------------- particles


@dataclass
class _Particles:
    """Live particles in world coordinates (pixels)."""

    ids: list[int]
    x: list[float]
    y: list[float]
    r: list[float]
    angle: list[float]
    next_id: int
    vx: list[float] = field(default_factory=list)
    vy: list[float] = field(default_factory=list)

    #: Per-particle attributes (popped and appended together).
    ATTRS = ("ids", "x", "y", "r", "angle", "vx", "vy")

    def add(self, x: float, y: float, r: float, angle: float, vx: float = 0.0, vy: float = 0.0) -> None:
        """A new particle with the next id."""
        for attr, value in zip(self.ATTRS, (self.next_id, x, y, r, angle, vx, vy)):
            getattr(self, attr).append(value)
        self.next_id += 1

    def remove(self, i: int) -> None:
        for attr in self.ATTRS:
            getattr(self, attr).pop(i)

    def free(self, x: float, y: float, r: float, margin: float = 1.0) -> bool:
        """No particle within ``margin`` of a disc at (x, y) of radius r."""
        xs, ys, rs = self.arrays()
        return not (len(xs) and np.any(np.hypot(xs - x, ys - y) < rs + r + margin))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.array(self.x, float), np.array(self.y, float), np.array(self.r, float)


def _place_particles(cfg: MovieConfig, box: tuple[float, float, float, float],
                     rng: np.random.Generator, parts: _Particles | None = None) -> _Particles:
    """Non-touching particles, uniform in ``box`` = (x0, y0, x1, y1), added to ``parts``."""
    parts = parts or _Particles([], [], [], [], [], 1)
    tries, placed = 0, 0
    while placed < cfg.n_particles and tries < 200 * max(cfg.n_particles, 1):
        tries += 1
        r = max(cfg.radius_px * (1 + cfg.radius_spread * rng.standard_normal()), 2 * cfg.min_radius_px)
        x, y = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
        if not parts.free(x, y, r):
            continue
        parts.add(x, y, r, rng.uniform(0, np.pi))
        placed += 1
    return parts


def _plant_groups(cfg: MovieConfig, box: tuple[float, float, float, float], rng: np.random.Generator,
                  parts: _Particles) -> None:
    """Pairs and triples around a common centre in ``box`` (seen in every frame), moving towards it.

    Each group is sized so that its members touch after a random 15-75 % of the movie
    at ``approach_speed`` (growth shortens that a little).
    """
    speed = max(cfg.approach_speed, 1e-3)
    for n_members in [2] * cfg.merge_pairs + [3] * cfg.merge_triples:
        for _ in range(200):
            radii = [max(cfg.radius_px * (1 + 0.2 * rng.standard_normal()), 2 * cfg.min_radius_px)
                     for _ in range(n_members)]
            travel = speed * rng.uniform(0.15, 0.75) * cfg.frames
            spread = max(radii) + travel
            cx = rng.uniform(box[0] + spread + 4, box[2] - spread - 4)
            cy = rng.uniform(box[1] + spread + 4, box[3] - spread - 4)
            phi = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(n_members) / n_members
            # touching distance from the centre for a pair: r; for three: 2r / sqrt(3)
            touch = [r * (1.0 if n_members == 2 else 2 / np.sqrt(3)) for r in radii]
            members = [(cx + (t + travel) * np.cos(a), cy + (t + travel) * np.sin(a), r, a)
                       for t, r, a in zip(touch, radii, phi)]
            if all(parts.free(x, y, r + travel, margin=3.0) for x, y, r, _ in members):
                for x, y, r, a in members:
                    parts.add(x, y, r, rng.uniform(0, np.pi), -speed * np.cos(a), -speed * np.sin(a))
                break


def _plant_crossing(cfg: MovieConfig, origin: np.ndarray, rng: np.random.Generator, parts: _Particles) -> None:
    """Particles on the edge of the first frame's field of view gliding out (even) or in (odd)."""
    for k in range(cfg.crossing):
        for _ in range(200):
            r = max(cfg.radius_px * (1 + 0.2 * rng.standard_normal()), 2 * cfg.min_radius_px)
            side = rng.integers(4)
            along = rng.uniform(0.15, 0.85) * cfg.size
            depth = rng.uniform(r + 2, r + 2 + 0.3 * cfg.crossing_speed * cfg.frames)
            inward = k % 2 == 1
            depth = -depth if inward else depth  # entering particles start outside the frame
            normal = np.array([[0, 1], [0, -1], [1, 0], [-1, 0]][side], float)  # into the frame
            edge = np.array([[along, 0], [along, cfg.size - 1], [0, along], [cfg.size - 1, along]][side], float)
            x, y = origin + edge + normal * depth
            v = cfg.crossing_speed * (normal if inward else -normal)
            if parts.free(x, y, r, margin=2.0):
                parts.add(x, y, r, rng.uniform(0, np.pi), v[0], v[1])
                break


def _evolve(parts: _Particles, cfg: MovieConfig, rng: np.random.Generator, frame: int,
            events: list[dict[str, Any]]) -> None:
    """One frame of growth, Ostwald ripening, diffusion, dissolution and coalescence."""
    if not parts.ids:
        return
    _, _, r = parts.arrays()
    r_mean = r.mean()
    dr = cfg.growth_rate + cfg.ripening_rate / r * (1.0 / r_mean - 1.0 / r)
    r = r + dr
    steps = rng.normal(0.0, cfg.diffusion, (len(r), 2))
    parts.x = list(np.array(parts.x) + steps[:, 0] + np.array(parts.vx))
    parts.y = list(np.array(parts.y) + steps[:, 1] + np.array(parts.vy))
    parts.r = list(r)
    for i in [k for k in range(len(r)) if r[k] < cfg.min_radius_px][::-1]:
        events.append({"frame": frame, "kind": "dissolve", "parents": [parts.ids[i]], "child": -1})
        parts.remove(i)
    _coalesce(parts, frame, events)


def _touching_pair(parts: _Particles) -> tuple[int, int, float] | None:
    xs, ys, rs = parts.arrays()
    if len(xs) < 2:
        return None
    gap = np.hypot(xs[:, None] - xs[None], ys[:, None] - ys[None]) - rs[:, None] - rs[None]
    np.fill_diagonal(gap, np.inf)
    i, j = np.unravel_index(np.argmin(gap), gap.shape)
    return (int(i), int(j), float(gap[i, j])) if gap[i, j] <= 0 else None


def _coalesce(parts: _Particles, frame: int, events: list[dict[str, Any]]) -> None:
    """Merge touching particles (volume conserved, centre of mass and momentum kept) until none touch.

    A particle born by a merge in this frame that touches another one in the same frame
    absorbs it into the same merge (one event, all parents), so no track exists for
    zero frames.
    """
    born = {ev["child"]: ev for ev in events if ev["frame"] == frame and ev["kind"] == "merge"}
    while (pair := _touching_pair(parts)) is not None:
        i, j, _ = pair
        vi, vj = parts.r[i] ** 3, parts.r[j] ** 3
        big = i if vi >= vj else j
        means = [(getattr(parts, a)[i] * vi + getattr(parts, a)[j] * vj) / (vi + vj) for a in ("x", "y", "vx", "vy")]
        child = (means[0], means[1], (vi + vj) ** (1 / 3), parts.angle[big], means[2], means[3])
        ids = (parts.ids[i], parts.ids[j])
        parents = [p for pid in ids for p in (born.pop(pid)["parents"] if pid in born else [pid])]
        events[:] = [ev for ev in events if not (ev["kind"] == "merge" and ev["frame"] == frame
                                                 and ev["child"] in ids)]
        for k in sorted((i, j), reverse=True):
            parts.remove(k)
        event = {"frame": frame, "kind": "merge", "parents": sorted(parents), "child": parts.next_id}
        events.append(event)
        born[parts.next_id] = event
        parts.add(*child)


# --------------------------------------------------------------------------- rendering


def _render_particles(image: np.ndarray, labels: np.ndarray, parts: _Particles, origin: np.ndarray,
                      fringe_px: float) -> list[dict[str, Any]]:
    """Darken ``image`` by each particle (thickness + fringes), fill ``labels``; rows for the track table."""
    size = image.shape[0]
    rows = []
    for pid, wx, wy, r, ang in zip(parts.ids, parts.x, parts.y, parts.r, parts.angle):
        cx, cy = wx - origin[0], wy - origin[1]
        y0, y1 = max(int(np.floor(cy - r - 2)), 0), min(int(np.ceil(cy + r + 2)) + 1, size)
        x0, x1 = max(int(np.floor(cx - r - 2)), 0), min(int(np.ceil(cx + r + 2)) + 1, size)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        dist = np.hypot(xx - cx, yy - cy)
        inside = dist < r
        if not inside.any():
            continue
        edge = np.clip(r - dist + 0.5, 0.0, 1.0)  # anti-aliased disc
        thickness = np.sqrt(np.clip(1 - (dist / r) ** 2, 0, 1)) * 0.6 + 0.4 * edge
        # fringes are fixed to the particle (world frame), so they move with the stage
        phase = 2 * np.pi / fringe_px * ((xx + origin[0]) * np.cos(ang) + (yy + origin[1]) * np.sin(ang))
        image[y0:y1, x0:x1] -= edge * thickness * (0.18 + 0.06 * np.cos(phase))
        labels[y0:y1, x0:x1][inside] = pid
        rows.append({"track_id": pid, "x": cx, "y": cy, "radius_px": r, "area_px": int(inside.sum()),
                     "touches_border": bool(cx - r < 0 or cy - r < 0 or cx + r > size - 1 or cy + r > size - 1)})
    return rows


def _last_gap(prev: dict[int, tuple[float, float, float]], parents: list[int]) -> float:
    """Smallest edge-to-edge distance between parents in the previous frame (NaN if unknown)."""
    known = [prev[p] for p in parents if p in prev]
    gaps = [np.hypot(a[0] - b[0], a[1] - b[1]) - a[2] - b[2] for k, a in enumerate(known) for b in known[k + 1:]]
    return float(min(gaps)) if gaps else float("nan")


def simulate_movie(config: MovieConfig | None = None, **overrides: Any) -> SimulatedMovie:
    """Simulate a drifting in-situ TEM movie of ripening, coalescing nanoparticles.

    Parameters
    ----------
    config : MovieConfig, optional
        All parameters; defaults from :class:`MovieConfig`.
    **overrides
        Field values that replace those of ``config``, e.g. ``frames=20, seed=3``.

    Returns
    -------
    SimulatedMovie
        Frames (frames, size, size) float32 plus label masks, shifts, tracks and events.

    Raises
    ------
    ParameterError
        On invalid parameters (pydantic validation) or a bad pixel size.

    Examples
    --------
    >>> sim = simulate_movie(frames=4, size=64, n_particles=3, seed=1)
    >>> sim.movie.shape, sim.masks.dtype.name
    ((4, 64, 64), 'uint16')
    """
    cfg = _validated(config, overrides)
    pixel_size = parse_length(cfg.pixel_size)
    rng = np.random.default_rng(cfg.seed)
    path, jumps = _stage_path(cfg, rng)
    # frame origin in world coordinates: content moves by +path, so the origin moves by -path
    origins = (-path) - (-path).min(axis=0) + 4.0
    span = np.ceil(origins.max(axis=0) + cfg.size + 8).astype(int)
    world_shape = (int(span[1]), int(span[0]))
    parts = _Particles([], [], [], [], [], 1)
    if cfg.merge_pairs or cfg.merge_triples:  # inside the part of the support every frame sees
        _plant_groups(cfg, (origins[:, 0].max(), origins[:, 1].max(), origins[:, 0].min() + cfg.size,
                            origins[:, 1].min() + cfg.size), rng, parts)
    if cfg.crossing:
        _plant_crossing(cfg, origins[0], rng, parts)
    parts = _place_particles(cfg, (origins[:, 0].min(), origins[:, 1].min(),
                                   origins[:, 0].max() + cfg.size, origins[:, 1].max() + cfg.size), rng, parts)
    spec = _support_spectrum(world_shape, pixel_size.angstrom, rng)
    fringe_px = max(FRINGE_SPACING_ANGSTROM / pixel_size.angstrom, 3.0)
    movie = np.empty((cfg.frames, cfg.size, cfg.size), np.float32)
    masks = np.zeros((cfg.frames, cfg.size, cfg.size), np.uint16)
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    prev: dict[int, tuple[float, float, float]] = {}
    for f in range(cfg.frames):
        if f > 0:
            n_before = len(events)
            _evolve(parts, cfg, rng, f, events)
            for ev in events[n_before:]:
                if ev["kind"] == "merge":
                    ev["gap_px"] = _last_gap(prev, ev["parents"])
        prev = {pid: (x, y, r) for pid, x, y, r in zip(parts.ids, parts.x, parts.y, parts.r)}
        image = 0.6 + 0.08 * _shifted_support(spec, world_shape, origins[f], cfg.size)
        frame_rows = _render_particles(image, masks[f], parts, origins[f], fringe_px)
        rows.extend({"frame": f, **row} for row in frame_rows)
        movie[f] = _expose(image, cfg, rng)
    if masks.max() >= 65535:
        raise ParameterError("too many particles for 16-bit label masks; lower n_particles or frames")
    tracks = _track_table(rows, pixel_size)
    lineage, merges = _truth_lineage(tracks, events)
    return SimulatedMovie(movie=movie, masks=masks, shifts=_shift_table(path, jumps), tracks=tracks,
                          events=merges, lineage=lineage, pixel_size=pixel_size, config=cfg,
                          summary={"n_tracks": int(len(lineage)), "n_jumps": int(jumps.sum()),
                                   "n_merges": int(len(merges)),
                                   "n_multi_parent_merges": int((merges["parents"].str.count(" ") > 1).sum())})


def _expose(image: np.ndarray, cfg: MovieConfig, rng: np.random.Generator) -> np.ndarray:
    """Brightness flicker, then Poisson counts (with a dose) or Gaussian noise."""
    if cfg.flicker > 0:
        image = image * (1.0 + cfg.flicker * rng.standard_normal())
    if cfg.dose is not None:
        return rng.poisson(np.clip(image, 0, None) * cfg.dose) / cfg.dose
    return image + rng.normal(0.0, cfg.noise, image.shape) if cfg.noise > 0 else image


def _validated(config: MovieConfig | None, overrides: dict[str, Any]) -> MovieConfig:
    from pydantic import ValidationError

    try:
        cfg = MovieConfig.model_validate({**(config or MovieConfig()).model_dump(), **overrides})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ParameterError(f"movie simulation: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    parse_length(cfg.pixel_size)
    return cfg


def _shift_table(path: np.ndarray, jumps: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"frame": np.arange(len(path)), "dx": path[:, 0], "dy": path[:, 1], "jump": jumps})


def _track_table(rows: list[dict[str, Any]], pixel_size: Length) -> pd.DataFrame:
    cols = ["frame", "track_id", "x", "y", "radius_px", "area_px", "touches_border"]
    table = pd.DataFrame(rows, columns=cols)
    nm2 = pixel_size.nm ** 2
    table["area_nm2"] = table["area_px"] * nm2
    table["equivalent_diameter_nm"] = 2 * np.sqrt(table["area_nm2"] / np.pi)
    return table


def _truth_lineage(tracks: pd.DataFrame, events: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lineage and merge events of the tracks seen in the movie (the linker's convention)."""
    span = tracks.groupby("track_id")["frame"].agg(["min", "max"])
    seen = set(span.index.astype(int))
    parents: dict[int, list[int]] = {}
    fate: dict[int, str] = {}
    rows = []
    for ev in events:
        if ev["kind"] == "dissolve":
            fate[ev["parents"][0]] = "dissolved"
            continue
        visible = [p for p in ev["parents"] if p in seen]
        for p in ev["parents"]:
            fate[p] = "merged"
        if ev["child"] not in seen or not visible:
            continue
        parents[ev["child"]] = visible
        if len(visible) >= 2:
            rows.append({"frame": int(span.loc[ev["child"], "min"]), "event": "merge",
                         "parents": " ".join(map(str, visible)), "child": int(ev["child"]),
                         "gap_px": ev.get("gap_px", np.nan)})
    lineage = pd.DataFrame({"track_id": span.index.astype(int), "start": span["min"].astype(int),
                            "end": span["max"].astype(int)}).reset_index(drop=True)
    lineage["parents"] = [" ".join(map(str, parents.get(t, []))) for t in lineage["track_id"]]
    lineage["fate"] = [fate.get(t, "") for t in lineage["track_id"]]
    merges = pd.DataFrame(rows, columns=["frame", "event", "parents", "child", "gap_px"])
    return lineage, merges.sort_values(["frame", "child"], kind="stable").reset_index(drop=True)
