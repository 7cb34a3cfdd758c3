"""The Probe page: filters, feature maps, receptive fields and attribution for one image."""
