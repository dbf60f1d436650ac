"""The training loop of the learned segmenters: Adam with a one-cycle schedule over drawn batches.

A library trainer (Lightning, ...) would add a dependency for a 30-line loop. Used by the
atom DCNN (:mod:`rewardscope.detect.dcnn.training`) and the particle segmenters.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from rewardscope.progress import ProgressCallback, silent, start_stage

#: ``batch(step) -> (inputs, targets)`` as numpy arrays or tensors.
BatchFn = Callable[[int], tuple[np.ndarray, np.ndarray]]
#: ``loss(net output, targets) -> scalar tensor``.
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def fit(net: nn.Module, batch: BatchFn, loss_fn: LossFn, *, steps: int, lr: float, device: str = "cpu",
        progress: ProgressCallback = silent, stage: str = "training",
        on_loss: Callable[[int, float], None] | None = None, pct_start: float = 0.1,
        final_div_factor: float = 20.0) -> list[float]:
    """Train ``net`` in place for ``steps`` steps; returns the per-step losses (net ends on the CPU, eval mode).

    ``pct_start`` and ``final_div_factor`` shape the one-cycle schedule (warm-up share; the
    last rate is ``lr / 25 / final_div_factor``).

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> net = nn.Conv2d(1, 1, 1)
    >>> x = np.ones((2, 1, 4, 4), np.float32)
    >>> losses = fit(net, lambda s: (x, 3 * x), lambda o, t: ((o - t) ** 2).mean(), steps=60, lr=0.3)
    >>> bool(losses[-1] < 0.01 * losses[0])
    True
    """
    net.to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=pct_start,
                                                final_div_factor=final_div_factor)
    losses: list[float] = []
    advance = start_stage(progress, stage, total=steps, unit="steps")
    for step in range(steps):
        x, y = batch(step)
        x = torch.as_tensor(x).to(device)
        y = torch.as_tensor(y).to(device)
        loss = loss_fn(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        advance()
        if on_loss is not None:
            on_loss(step + 1, losses[-1])
    net.cpu().eval()
    return losses
