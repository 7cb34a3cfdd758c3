"""Pure Python + NumPy core: the layer catalog, the graph, inference, commands, project files.

Nothing here imports Qt, pyqtgraph, TensorFlow, Keras or OpenCV (checked by import-linter).
"""
