"""Edit data before training: held-out split selection, up-front checks of every example, summaries."""
