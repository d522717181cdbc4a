"""distill-hifigan: a per-model HiFi-GAN V2 trained on a model's own audio.

Not implemented yet (see the HiFi-GAN issue): this package installs but registers no vocoder, so
`distill vocoders` never offers a backend that cannot render.
"""
