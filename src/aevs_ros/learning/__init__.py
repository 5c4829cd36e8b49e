"""The AEVS autoencoder: network, losses, training views, training loop and linearisation.

config.py     AutoencoderConfig, ViewSampling, TrainConfig (torch-free: the CLI reads them)
model.py      the ResNet autoencoder and its self-describing model file
losses.py     frequency-weighted DCT loss and pixel BCE
dataset.py    rendered training views of a planar scene
train.py      the training loop (checkpoints, resume, CSV log, DDP under torchrun)
linearize.py  z and L_z in one forward-mode pass, for serving

Like core/, nothing here imports rclpy or ROS messages.
"""
