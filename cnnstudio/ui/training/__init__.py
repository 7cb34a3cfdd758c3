"""The Training page: data, settings, a worker-thread trainer with live curves, runs and evaluation."""
