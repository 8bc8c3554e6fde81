"""Talking-portrait fields: the audio-conditioned head and the pseudo-3D torso."""
