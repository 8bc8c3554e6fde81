"""nerfstudio models of talking portraits."""
