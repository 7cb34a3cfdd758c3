"""Looking inside a model: the prober, attributions, filters, unit fields, mosaics, probe sessions."""
