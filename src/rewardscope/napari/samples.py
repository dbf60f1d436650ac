"""napari sample data: the shipped real HRTEM image, a simulated HAADF image, a simulated movie.

Nothing is downloaded: the HRTEM micrograph ships in the package (CC-BY-4.0, cite
:data:`rewardscope.datasets.HRTEM_ATTRIBUTION`); the others are simulated on request
(seeded, small enough to appear in a second or two).
"""

from __future__ import annotations

from rewardscope.napari.reader import LayerData, image_layer_data


def hrtem_sample() -> list[LayerData]:
    """The shipped real HRTEM image of nanoparticles (512 x 512, no calibration)."""
    from rewardscope.datasets import HRTEM_ATTRIBUTION, sample_hrtem

    image, _ = sample_hrtem()
    return [image_layer_data(image, None, name="HRTEM nanoparticles", metadata={"attribution": HRTEM_ATTRIBUTION})]


def haadf_sample() -> list[LayerData]:
    """A simulated YBCO [100] HAADF-STEM image (256 px, 0.35 Å/px, noise 0.1)."""
    from rewardscope.simulate import simulate_haadf

    sim = simulate_haadf("ybco-100", size=256, pixel_size="0.35A", noise=0.1, seed=0)
    return [image_layer_data(sim.image, sim.pixel_size, name="HAADF YBCO [100] (simulated)",
                             metadata={"lattice": "ybco-100"})]


def movie_sample() -> list[LayerData]:
    """A simulated in-situ TEM movie (30 frames of 256 px: drift, growth, merges)."""
    from rewardscope.simulate import simulate_movie

    sim = simulate_movie(frames=30, size=256, seed=0)
    return [image_layer_data(sim.movie, sim.pixel_size, name="in-situ movie (simulated)")]
