"""3D spheroid simulator after cell_data_synthesis (Bruch et al.): nucleus prototypes placed by
random sequential adsorption inside a spheroid mask, depth attenuation, depth-variant PSF
blur, anti-aliased resampling and a physical camera (docs/spheroid.md).

Algorithms (numpy in, numpy out), imported only when used:

- ``prototypes``: ``extract_prototypes``, ``augment_prototypes``, ``rescale_prototypes``
- ``masks``: ``spheroid_mask``, ``ellipsoid_mask``
- ``placement``: ``place_nuclei`` (random sequential adsorption, subcultures)
- ``optics``: ``attenuation``, ``apply_attenuation``, ``gaussian_psf``, ``psf_from_optics``,
  ``prepare_psf``, ``blur``, ``resample_volume``, ``resample_labels``, ``grow_labels``
- ``camera``: ``Camera``, ``acquire``
- ``pipeline``: ``simulate_volume`` (the whole chain)
"""
