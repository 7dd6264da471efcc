"""Reproduction: the profiles (which runs, seeds and epochs), the notebooks' parameters and pipeline, and
`python -m gmvae reproduce`, which trains a profile's missing runs side by side and executes the notebooks.

Apart from the science because it orchestrates: it calls train and reads run folders, while nothing in
train, models or loss depends on it.
"""
