"""Vocoders for a model: choosing one (selection.py) and comparing the backends on its held-out
recordings (compare.py). What a backend is lives in distill.plugin (contract.py); the signal code
they use (Griffin-Lim, mel conversion) beside the mel front end."""
