"""Explore the accuracy / flash / cycles trade-off: train a grid of bit widths and layer sizes,
measure each integer model as built for the Cortex-M0, and keep the Pareto front."""
