"""Audio for talking portraits: reading, feature extraction, per-frame windows.

One package serves training data, driving audio at render time and (later) streaming.
Heavy imports (torchaudio models, PyAV) happen inside the functions that need them.
"""
