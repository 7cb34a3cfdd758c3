"""The convolution explorer page."""
