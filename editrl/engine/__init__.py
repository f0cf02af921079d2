"""The training engine: owns the loop; every variant comes from a plugin."""
