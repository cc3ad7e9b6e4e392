"""Small helpers every stage shares: the one user-facing error type and atomic file writes.

Nothing here imports another package of this project."""
