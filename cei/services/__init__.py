"""Business rules as verbs: they flush and log; the edge (view, job, CLI) commits."""
