"""rad-process: from a talking-head video to the RAD-NeRF / ER-NeRF processed dataset layout."""
