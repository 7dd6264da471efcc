"""Speed: `python -m gmvae bench`, which times the training step against a straightforward port of it
(baseline_step, the same loss computed the plain way) and against the machine's matmul rate.

Apart from the science because it only measures it: train, models and loss never import from here.
"""
