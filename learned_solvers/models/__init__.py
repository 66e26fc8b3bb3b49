"""Models: weight-tied blocks that see only canonical forms."""
