"""BigVGAN-v2's generator, for inference: mel [B, n_mels, T] -> waveform [B, 1, T * hop].

Module and parameter names mirror the official checkpoint (`conv_pre`, `ups.{i}.0`,
`resblocks.{k}.convs1.{j}`, `resblocks.{k}.activations.{m}.act.alpha`, ...), with weight norm already
folded into plain `weight`s (see checkpoint.py). Build it with `Generator.from_weights`, then call
`prepare(dtype, device)` once: it lays the weights out for fast convolution and derives the
activation constants, so rendering does no per-call set-up.

Speed (see the README's benchmark): signals flow as channels-last 4-D tensors [B, C, 1, T], the layout
oneDNN's CPU convolutions run fastest in (and the one its depthwise kernels need to be fast at all);
each anti-aliased activation is four depthwise convolutions on the two phases of the ×2 signal, with
SnakeBeta between them reduced to one cosine and one fused multiply-add (see AntiAliasedActivation);
and each stage's AMP blocks run a tile of time at a time, so intermediate tensors stay a few MB
(cache-friendly, and reused by the allocator instead of being mapped and unmapped by the OS).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import GeneratorConfig
from .filters import EDGE, EDGE_INPUT, downsampler, edge_matrices, polyphase_taps, upsampler

SHORT = 4 * EDGE_INPUT  # shorter signals are filtered whole, by one matrix each way
CHUNK = 1 << 21  # elements (channels × samples) per stretch of an activation: 8 MB in fp32
REACH = 6  # input samples either side that one activation output depends on (two 7-tap convolutions)
TILE = 1 << 21  # elements per tile of a stage's AMP blocks: 8 MB in fp32
CHANNELS_LAST = torch.channels_last


class SnakeBeta(nn.Module):
    """x + 1/β · sin²(αx), per channel, with α and β stored as logarithms (as trained)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(channels), requires_grad=False)
        self.beta = nn.Parameter(torch.zeros(channels), requires_grad=False)


class AntiAliasedActivation(nn.Module):
    """Upsample ×2, SnakeBeta, low-pass and downsample ×2, along time, for every channel.

    With s = 2α and k = 1/(2β), SnakeBeta is z = u + k − k·cos(s·u). We upsample straight to v = s·u
    (the upsampling taps scaled by s), form v − s·k·cos(v) in place, and fold 1/s into the downsampling
    taps and k into its bias: the constant passes the unit-gain low-pass unchanged.
    """

    # Derived by prepare(): depthwise kernels [C, 1, 1, 7] and per-channel constants.
    up_even: torch.Tensor
    up_odd: torch.Tensor
    down_even: torch.Tensor
    down_odd: torch.Tensor
    gain: torch.Tensor
    offset: torch.Tensor
    scale: torch.Tensor
    k: torch.Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.act = SnakeBeta(channels)

    def prepare(self) -> None:
        alpha = torch.exp(self.act.alpha.detach().double())
        k = 0.5 / (torch.exp(self.act.beta.detach().double()) + 1e-9)  # the reference's guard against 1/0
        scale = 2 * alpha
        taps = {name: torch.from_numpy(value).to(alpha.device) for name, value in polyphase_taps().items()}
        channels = alpha.shape[0]

        def depthwise(kernel: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
            return (gain[:, None] * kernel[None, :]).view(channels, 1, 1, 7)

        derived = {
            "up_even": depthwise(taps["up_even"], scale), "up_odd": depthwise(taps["up_odd"], scale),
            "down_even": depthwise(taps["down_even"], 1 / scale), "down_odd": depthwise(taps["down_odd"], 1 / scale),
            "gain": (-scale * k).view(1, -1, 1, 1), "offset": k,
            # for the ends, which use the plain form u + k - k·cos(s·u)
            "scale": scale.view(1, -1, 1), "k": k.view(1, -1, 1),
        }
        for name, value in derived.items():
            self.register_buffer(name, value.float(), persistent=False)

    def forward(self, x: torch.Tensor, filters: Filters) -> torch.Tensor:
        """x [B, C, 1, T] (channels-last) -> a new tensor of the same shape."""
        length = x.shape[-1]
        if length < SHORT:
            up, down = filters.whole(length, x.dtype)
            return self._plain(x[:, :, 0], up, down).unsqueeze(2).contiguous(memory_format=CHANNELS_LAST)
        # A stretch of time at a time: the temporaries stay small and in cache, and the allocator reuses
        # them instead of mapping fresh pages from the OS. A time slice of a channels-last signal is
        # itself contiguous, so the stretches (with a 6-sample margin each side) are views.
        pieces = _pieces(length, max(CHUNK // x.shape[1], 8 * REACH))
        if len(pieces) == 1:
            out = self._stretch(x)
        else:
            out = torch.empty_like(x)
            for start, stop in pieces:
                first, last = max(0, start - REACH), min(length, stop + REACH)
                out[..., start:stop] = self._stretch(x[..., first:last])[..., start - first : stop - first]
        # The ends depend on how the reference pads the signal: EDGE samples each, computed exactly.
        out[..., :EDGE] = self._plain(x[:, :, 0, :EDGE_INPUT], filters.head_up, filters.head_down).unsqueeze(2)
        out[..., -EDGE:] = self._plain(x[:, :, 0, -EDGE_INPUT:], filters.tail_up, filters.tail_down).unsqueeze(2)
        return out

    def _stretch(self, x: torch.Tensor) -> torch.Tensor:
        """The activation of a stretch, zero-padded at its ends (exact REACH samples in from a cut)."""
        channels = x.shape[1]
        even = F.conv2d(x, self.up_even, padding=(0, 3), groups=channels)
        odd = F.conv2d(x, self.up_odd, padding=(0, 3), groups=channels)
        for phase in (even, odd):
            phase.addcmul_(torch.cos(phase), self.gain)
        out = F.conv2d(even, self.down_even, self.offset, padding=(0, 3), groups=channels)
        return out.add_(F.conv2d(odd, self.down_odd, padding=(0, 3), groups=channels))

    def _plain(self, x: torch.Tensor, up: torch.Tensor, down: torch.Tensor) -> torch.Tensor:
        """[B, C, n] through given up/down matrices, SnakeBeta in its plain form."""
        u = torch.matmul(x, up)
        z = u.addcmul_(torch.cos(u * self.scale), self.k, value=-1.0)
        return torch.matmul(z, down).add_(self.k)


def _pieces(length: int, most: int) -> list[tuple[int, int]]:
    """[0, length) cut into equal pieces of at most `most` samples (no short leftover at the end)."""
    count = -(-length // most)
    bounds = [round(i * length / count) for i in range(count + 1)]
    return list(itertools.pairwise(bounds))


class Filters(nn.Module):
    """The matrices for the ends of a signal, and for whole short signals (see filters.py)."""

    head_up: torch.Tensor
    head_down: torch.Tensor
    tail_up: torch.Tensor
    tail_down: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        for name, matrix in edge_matrices().items():
            self.register_buffer(name, torch.from_numpy(matrix.astype(np.float32)), persistent=False)
        self._whole: dict[tuple[int, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    def whole(self, length: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """The full maps for a short signal of `length` samples (ends included), made once per length."""
        key = (length, dtype)
        if key not in self._whole:
            up, down = (torch.from_numpy(m.astype(np.float32)).to(self.head_up.device, dtype)
                        for m in (upsampler(length), downsampler(length)))
            self._whole[key] = (up, down)
        return self._whole[key]


def _row_kernel(weight: nn.Parameter) -> nn.Parameter:
    """A 1-D kernel [a, b, k] as a channels-last [a, b, 1, k] one, for 2-D convolutions over [B, C, 1, T]
    signals (unchanged if already prepared)."""
    if weight.dim() != 3:
        return weight
    return nn.Parameter(weight.unsqueeze(2).contiguous(memory_format=CHANNELS_LAST), requires_grad=False)


class Conv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, dilation: int = 1, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, kernel), requires_grad=False)
        self.bias = nn.Parameter(torch.empty(cout), requires_grad=False) if bias else None
        self.dilation, self.padding = dilation, dilation * (kernel - 1) // 2

    def prepare(self) -> None:
        self.weight = _row_kernel(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # With 16-bit weights the product runs in 16 bits and the signal between layers stays fp32.
        y = F.conv2d(x.to(self.weight.dtype), self.weight, self.bias, padding=(0, self.padding),
                     dilation=(1, self.dilation))
        return y.to(x.dtype)


class UpConv(nn.Module):
    """A transposed convolution that multiplies the sample rate by `rate` (no anti-aliasing, as upstream)."""

    def __init__(self, cin: int, cout: int, kernel: int, rate: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cin, cout, kernel), requires_grad=False)
        self.bias = nn.Parameter(torch.empty(cout), requires_grad=False)
        self.rate, self.padding = rate, (kernel - rate) // 2

    def prepare(self) -> None:
        self.weight = _row_kernel(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv_transpose2d(x.to(self.weight.dtype), self.weight, self.bias, stride=(1, self.rate),
                               padding=(0, self.padding))
        return y.to(x.dtype)


class AMPBlock(nn.Module):
    """Residual block: for each dilation, x += conv2(act(conv1_dilated(act(x))))."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList([Conv(channels, channels, kernel, d) for d in dilations])
        self.convs2 = nn.ModuleList([Conv(channels, channels, kernel, 1) for _ in dilations])
        self.activations = nn.ModuleList([AntiAliasedActivation(channels) for _ in range(2 * len(dilations))])

        # Input samples either side that one output sample depends on: per dilation two activations and
        # two convolutions.
        self.reach = sum(2 * REACH + (kernel - 1) // 2 * (d + 1) for d in dilations)

    def forward(self, x: torch.Tensor, filters: Filters) -> torch.Tensor:
        acts = self.activations
        for i, (conv1, conv2) in enumerate(zip(self.convs1, self.convs2, strict=True)):
            y = conv2(acts[2 * i + 1](conv1(acts[2 * i](x, filters)), filters))
            x = y.add_(x)  # y is fresh: adding in place never touches the block's shared input
        return x


class Generator(nn.Module):
    tile = TILE  # elements per tile of a stage (tests make it small to cut even small signals)

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        channels = config.channels
        self.conv_pre = Conv(config.num_mels, channels[0], 7)
        self.ups = nn.ModuleList(
            nn.ModuleList([UpConv(channels[i], channels[i + 1], kernel, rate)])
            for i, (rate, kernel) in enumerate(zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True))
        )
        self.resblocks = nn.ModuleList(
            AMPBlock(channels[i + 1], kernel, dilations)
            for i in range(len(config.upsample_rates))
            for kernel, dilations in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True)
        )
        self.activation_post = AntiAliasedActivation(channels[-1])
        self.conv_post = Conv(channels[-1], 1, 7, bias=config.use_bias_at_final)
        self.filters = Filters()
        self._stages: list[UpConv] = [stage[0] for stage in self.ups]  # type: ignore[index]
        kernels = len(config.resblock_kernel_sizes)
        blocks: list[AMPBlock] = list(self.resblocks)  # type: ignore[arg-type]
        self._blocks = [blocks[i * kernels : (i + 1) * kernels] for i in range(len(self._stages))]

    @classmethod
    def from_weights(cls, config: GeneratorConfig, weights: dict[str, torch.Tensor], source: str) -> Generator:
        """A generator holding `weights` (official names, weight norm folded); no copy is made."""
        from distill.plugin import DistillError

        with torch.device("meta"):
            model = cls(config)
        expected = {k: v.shape for k, v in model.state_dict().items()}
        missing = sorted(set(expected) - set(weights))
        unexpected = sorted(set(weights) - set(expected))
        wrong = sorted(f"{k} {list(weights[k].shape)} (config.json needs {list(expected[k])})"
                       for k in set(expected) & set(weights) if weights[k].shape != expected[k])
        if missing or unexpected or wrong:
            details = "; ".join(
                f"{label}: {', '.join(keys[:3])}{f' and {len(keys) - 3} more' if len(keys) > 3 else ''}"
                for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
                if keys
            )
            raise DistillError(f"{source} does not match its config.json ({details})")
        model.load_state_dict(weights, strict=True, assign=True)
        model.filters = Filters()
        return model.eval()

    def prepare(self, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> Generator:
        """Derive the activation constants, lay the convolution weights out channels-last, move to
        `device`, and store the convolution weights in `dtype` (bf16/fp16: products in 16 bits, while the signal,
        the activations and the residual sums stay fp32). Call it once."""
        for module in self.modules():
            if isinstance(module, (AntiAliasedActivation, Conv, UpConv)):
                module.prepare()
        super().to(device=device)
        for module in self.modules():
            if isinstance(module, (Conv, UpConv)):
                module.to(dtype=dtype)
        self.filters._whole.clear()
        return self

    def _stage(self, blocks: list[AMPBlock], x: torch.Tensor) -> torch.Tensor:
        """The mean of a stage's AMP blocks, a tile of time at a time: each tile (with a margin of the
        blocks' reach on each side) is computed as if it were the whole signal, and its middle kept. Only
        the stage's input and output are full-size tensors; everything in between is tile-sized."""
        halo = max(block.reach for block in blocks)
        out: torch.Tensor | None = None
        for start, stop in _pieces(x.shape[-1], max(self.tile // x.shape[1], 8 * halo)):
            first, last = max(0, start - halo), min(x.shape[-1], stop + halo)
            piece = x[..., first:last]
            total = blocks[0](piece, self.filters)
            for block in blocks[1:]:
                total.add_(block(piece, self.filters))
            if (first, last) == (0, x.shape[-1]):
                return total.div_(len(blocks))
            out = torch.empty_like(x) if out is None else out
            torch.div(total[..., start - first : stop - first], len(blocks), out=out[..., start:stop])
        assert out is not None
        return out

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel.unsqueeze(2).contiguous(memory_format=CHANNELS_LAST))
        for up, blocks in zip(self._stages, self._blocks, strict=True):
            x = self._stage(blocks, up(x))
        x = self.conv_post(self.activation_post(x, self.filters))[:, :, 0]
        return torch.tanh(x) if self.config.use_tanh_at_final else x.clamp_(-1.0, 1.0)
