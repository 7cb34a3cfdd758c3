"""The Live page: a camera (or a video, images, the demo) through the network, as it runs."""
