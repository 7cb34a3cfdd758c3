"""Live capture: frame sources (cameras, video, demo), the capture thread, the live pipeline."""
