"""The learned segmenters as a prepared state of the classical pipeline.

The classical pipeline (:mod:`rewardscope.segment.classical`) reads a prepared image
(particles high) and smooths, thresholds, cleans and splits it. A learned segmenter only
changes what that prepared image is:

* ``"autoencoder"``: the autoencoder's simplified image (sign-corrected so particles are
  high); smoothing width, threshold (Otsu's level of the result), clean-up and split are
  then chosen by the label-free rewards as for the classical route;
* ``"unet"``: the U-Net's particle probability, thresholded at a fixed 0.5 (no smoothing);
  the clean-up and the reward-chosen watershed split turn it into instance labels.

So every downstream step (rewards, split study, measurement, movies) is shared by the three
methods. The torch-heavy modules are imported only when a learned method is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from rewardscope.errors import ParameterError
from rewardscope.segment.classical import ClassicalState

if TYPE_CHECKING:
    from rewardscope.segment.networks import SegmenterModel

Method = Literal["classical", "autoencoder", "unet"]
#: The segmentation methods.
METHODS: tuple[str, ...] = ("classical", "autoencoder", "unet")
#: The fixed probability threshold of the U-Net.
UNET_THRESHOLD = 0.5


def load_method_model(method: str, model: Any = None) -> SegmenterModel | None:
    """The network a method needs: None (classical), the given or shipped U-Net, the given autoencoder.

    Parameters
    ----------
    method : {"classical", "autoencoder", "unet"}
    model : path or SegmenterModel, optional
        ``unet``: default the shipped weights; ``autoencoder``: required (trained on your frames).

    Raises
    ------
    ParameterError
        Unknown method, a model given for ``classical``, or no model for ``autoencoder``.
    FileFormatError
        A missing file or a file that is not a model of this kind.

    Examples
    --------
    >>> load_method_model("classical") is None, load_method_model("unet").kind
    (True, 'unet')
    """
    if method not in METHODS:
        raise ParameterError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "classical":
        if model is not None:
            raise ParameterError("--model is for --method autoencoder or unet, not classical")
        return None
    from rewardscope.segment.networks import SegmenterModel, load_segmenter

    if isinstance(model, SegmenterModel):
        if model.kind != method:
            raise ParameterError(f"the model is a {model.kind}, not a {method}")
        return model
    if model is None and method == "autoencoder":
        raise ParameterError("--method autoencoder needs --model FILE: train one on your own frames with "
                             "'rewardscope train segment-ae IMAGES --out model.pt'")
    return load_segmenter(model, kind=method)  # type: ignore[arg-type]


def learned_state(state: ClassicalState, model: SegmenterModel, *, device: str = "cpu", tta: int = 1,
                  refine_from_px: int = 2048) -> ClassicalState:
    """The prepared state with the network's image in place of the normalized micrograph.

    Parameters
    ----------
    state : ClassicalState
        From :func:`rewardscope.segment.classical.prepare` (its ``raw`` is what the network reads).
    model : SegmenterModel
    device : {"cpu", "cuda"}
    tta : int
        U-Net: dihedral test-time views (1-8).
    refine_from_px : int
        U-Net: frames whose longer side is at least this many px run fast-then-refine
        (:func:`rewardscope.segment.refine.fast_then_refine`; 0: never).

    Returns
    -------
    ClassicalState
        ``image``: the autoencoder's output (particles high) or the U-Net's probability.

    Examples
    --------
    >>> from rewardscope.datasets import sample_hrtem
    >>> from rewardscope.segment.classical import prepare
    >>> image, mask = sample_hrtem()
    >>> st = learned_state(prepare(image), load_method_model("unet"))
    >>> bool(((st.image > 0.5) == mask).mean() > 0.99)
    True
    """
    if model.kind == "unet":
        from rewardscope.segment.unet import unet_probability

        if model.polarity != state.polarity:
            raise ParameterError(f"the U-Net was trained on {model.polarity} particles, but polarity is "
                                 f"{state.polarity!r}")
        if refine_from_px and max(state.shape) >= refine_from_px:
            from rewardscope.segment.refine import fast_then_refine

            image = fast_then_refine(model, state.raw, device=device).probability
        else:
            image = unet_probability(model, [state.raw], tta=tta, device=device)[0]
    else:
        from rewardscope.segment.autoencoder import reconstruct

        sign = -1.0 if state.polarity == "dark" else 1.0
        image = sign * reconstruct(model, state.raw, device=device)
    return ClassicalState(image=np.ascontiguousarray(image, np.float32), raw=state.raw, polarity=state.polarity)
