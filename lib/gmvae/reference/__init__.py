"""Reference implementations: the original's graphs written again, apart from the library's models, to test the
library against them and to train with the original's numerics. Nothing in the library imports them but the
training loop, for runs whose configuration names one (TrainConfig.implementation)."""
