"""The AEVS autoencoder as serving needs it: architecture, network, model file, linearisation.

config.py     AutoencoderConfig, the architecture stored in model files (torch-free)
model.py      the ResNet autoencoder and its self-describing model file (save_model, load_model)
linearize.py  z and L_z in one forward-mode pass of the encoder

Training it (views, losses, the loop) is aevs_ros.learning's, which imports this package.
"""
