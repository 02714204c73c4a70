"""The post's toy models (VAE, score model, DDPM/DDIM) on an 8-mode Gaussian mixture, in closed
form where the maths allows, and the figure definitions built from them."""
