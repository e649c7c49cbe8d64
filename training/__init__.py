"""Training the learned parts: ``python -m training.reader`` (``make train-reader``)."""
