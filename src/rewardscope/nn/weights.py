"""Weights files: a torch-saved dict with a format tag and a model ``kind``, read without pickled code.

Every rewardscope weights file is ``{"format": ..., "kind": ..., "state_dict": ..., ...}``
saved by :func:`save_weights` (float32 tensors on the CPU) and read back by
:func:`load_weights` with ``weights_only=True`` (no code runs while loading). A missing
file, a file that is not a torch file, or a rewardscope model of another kind (an
autoencoder given where a U-Net is expected) is a :class:`~rewardscope.errors.FileFormatError`
with one readable line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from rewardscope.errors import FileFormatError


def cpu_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """The network's state dict on the CPU, floating tensors as float32."""
    return {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
            for k, v in net.state_dict().items()}


def save_weights(path: str | Path, *, format: str, kind: str | None = None, **entries: Any) -> Path:
    """Write ``{"format", "kind", **entries}`` to ``path`` (``torch.save``); folders are created.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_weights(Path(d) / "m.pt", format="demo-1", kind="unet", state_dict={})
    ...     load_weights(p, format="demo-1", kind="unet", what="a demo model")["kind"]
    'unet'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": format, "kind": kind, **entries}, path)
    return path


def load_weights(path: str | Path, *, format: str | tuple[str, ...], kind: str | None = None,
                 what: str = "a rewardscope model") -> dict[str, Any]:
    """Read a weights file written by :func:`save_weights`, checking its format tag and kind.

    Parameters
    ----------
    path : str or Path
    format : str or tuple of str
        Accepted format tag(s).
    kind : str, optional
        Required ``kind`` (None: any).
    what : str
        What the file should be, for error messages (e.g. ``"a rewardscope U-Net segmenter"``).

    Returns
    -------
    dict

    Raises
    ------
    FileFormatError
        Missing file, unreadable file, another format or another kind.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"model file not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling error means a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileFormatError(f"cannot read model {path}: {first}") from None
    formats = (format,) if isinstance(format, str) else tuple(format)
    if not isinstance(blob, dict) or blob.get("format") not in formats:
        raise FileFormatError(f"{path} is not {what}")
    if kind is not None and blob.get("kind") != kind:
        found = blob.get("kind")
        raise FileFormatError(f"{path} is a rewardscope {found} model, not {what}")
    return blob
