"""Rendering a trained portrait under chosen conditions: driving audio, eye, pose, background, torso."""
