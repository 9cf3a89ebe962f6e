"""Shared torch building blocks of the model plugins (2D and 3D).

Every GAN family celltool ships builds on these, and so can a third-party model plugin:

- :mod:`celltool.nn.layers` — normalisation, padding and convolution layers by dimensionality,
  the N(0, 0.02) weight initialisation;
- :mod:`celltool.nn.generators` — U-Net and ResNet generators (2D and 3D);
- :mod:`celltool.nn.discriminators` — PatchGAN (2D and 3D, optionally without z down-sampling
  after the first layer) and pixel discriminators;
- :mod:`celltool.nn.losses` — GAN losses (vanilla, LSGAN, hinge) and the image pool;
- :mod:`celltool.training.schedules` — learning-rate schedules (constant, then linear decay).

Importing this package imports torch; the plugins import it only in their model modules.
"""
