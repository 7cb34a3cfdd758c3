"""Training and its record: the fit loop, the whole job, run folders, losses, optimizers, evaluation, progress."""
