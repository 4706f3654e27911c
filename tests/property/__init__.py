"""Hypothesis over the real webhook handler on in-process moto."""
