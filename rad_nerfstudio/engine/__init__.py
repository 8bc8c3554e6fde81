"""Training plumbing around nerfstudio's trainer: stop signals, atomic checkpoints, checkpoint checks."""
