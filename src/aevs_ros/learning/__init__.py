"""Training the AEVS autoencoder and Siame-se(3): views, losses, configuration and the loop.

config.py     ViewSampling, PairSampling, TrainConfig (torch-free: the CLI reads them)
losses.py     frequency-weighted DCT loss and pixel BCE; Siame-se(3)'s pose loss
dataset.py    rendered training views of a planar scene, and pairs of them
train.py      the training loop (checkpoints, resume, CSV log, DDP under torchrun)

The network, its model file and its linearisation are what serving needs too, so they
live in the core (aevs_ros.core.network), which this package imports and never the reverse.

Like core/, nothing here imports rclpy or ROS messages.
"""
