"""Looking at a trained network, beside training: metrics and calibration, robustness to
distortions, the views inside it, and maps of what its last hidden layer sees."""
