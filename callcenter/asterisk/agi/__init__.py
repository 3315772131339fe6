"""FastAGI adapter: panoramisk's fast_agi with its defects fixed, and the IVR channel built on it."""
