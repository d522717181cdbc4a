"""distill-bigvgan: NVIDIA's BigVGAN-v2 universal vocoder for distill.

Not implemented yet (see the BigVGAN issue): this package installs but registers no vocoder, so
`distill vocoders` never offers a backend that cannot render.
"""
