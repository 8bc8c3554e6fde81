"""Evaluation of a trained talking portrait on its validation frames: metrics, videos, plots."""
