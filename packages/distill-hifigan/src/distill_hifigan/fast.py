"""The inference generator: the same function as a folded `networks.Generator`, arranged for CPU speed.

- the three residual blocks of a stage share their first activation, and the 1/3 average of their
  outputs is folded into the next layer's weights (leaky ReLU commutes with positive scaling);
- activations and residual sums are computed in place, so a window allocates few buffers;
- like the training generator, every convolution runs channels-last (see networks.py).
Measured against a straightforward HiFi-GAN V2 generator in tests/bench/bench_hifigan.py.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .networks import Generator, ResBlock, as_rows


class FastGenerator(nn.Module):
    """Log-mels [B, n_mels, T] -> waveform [B, 1, T * hop], equal to `generator` up to float rounding."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.config = generator.config
        self.net = copy.deepcopy(generator).eval().requires_grad_(False)
        kernels = len(self.config.resblock_kernels)
        with torch.no_grad():  # each stage's average over its blocks, moved into the layer after it
            for layer in [*self.net.ups[1:], self.net.conv_post]:
                layer.weight.mul_(1.0 / kernels)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        net, slope = self.net, self.config.slope
        kernels = len(self.config.resblock_kernels)
        x = net.conv_pre(as_rows(mel))
        for i, up in enumerate(net.ups):
            x = up(F.leaky_relu(x, slope))
            shared = F.leaky_relu(x, slope)  # every block's first activation
            total: torch.Tensor | None = None
            for block in net.resblocks[i * kernels : (i + 1) * kernels]:
                assert isinstance(block, ResBlock)
                y = x
                for n, (conv1, conv2) in enumerate(zip(block.convs1, block.convs2, strict=True)):
                    a = shared if n == 0 else F.leaky_relu(y, slope)
                    y = conv2(F.leaky_relu_(conv1(a), slope)).add_(y)
                total = y if total is None else total.add_(y)
            assert total is not None
            x = total  # the 1/3 average lives in the next layer's weights
        out = net.conv_post(F.leaky_relu_(x))  # slope 0.01, as in the published generator
        return torch.tanh_(out).squeeze(2)
