"""Graph -> Keras model and back: building, importing Keras files, raw operations, export, trained weights."""
