"""The networks as serving needs them: architectures, networks, model files, linearisation.

config.py     AutoencoderConfig, SiameConfig: the architectures stored in model files (torch-free)
model.py      the ResNet autoencoder and the self-describing model file (save_model, load_model)
linearize.py  z and L_z in one forward-mode pass of the encoder
siame.py      the Siame-se(3) pose regressor, built from model.py's blocks, and its model file

Training it (views, losses, the loop) is aevs_ros.learning's, which imports this package.
"""
