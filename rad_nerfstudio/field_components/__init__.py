"""Building blocks of the talking-portrait fields (encodings, audio networks, occupancy)."""
