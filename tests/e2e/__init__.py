"""The local stage end to end in a subprocess."""
