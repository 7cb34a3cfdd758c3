"""The data a model learns from: sources, the generated shapes dataset, splits, preprocessing, capture folders."""
