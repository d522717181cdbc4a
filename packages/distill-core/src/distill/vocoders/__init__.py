"""Vocoders: the contract a backend implements (contract.py), choosing one for a model
(selection.py), converting mels between recipes (melconvert.py), comparing backends on a model's
held-out recordings (compare.py), and the Griffin-Lim baseline (griffinlim.py)."""
