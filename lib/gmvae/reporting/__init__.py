"""Reporting: the figures, tables and verdicts on the post's claims, drawn from run logs beside the
original's published logs and figures (original.py, original_material/).

Apart from the science because it only reads what training wrote: nothing here trains, and importing
it does not import TensorFlow, so `python -m gmvae figures` redraws everything from the logs alone.
"""
