"""3D spheroid simulator after cell_data_synthesis (Bruch et al.): real nucleus prototypes
placed by random sequential adsorption inside a spheroid mask, depth attenuation, depth-variant
PSF blur, anti-aliased resampling and a physical camera (docs/spheroid.md).

Algorithms (numpy in, numpy out), imported only when used:

- ``prototypes``: ``Prototype``, ``extract_prototypes``, ``augment_prototypes``
- ``masks``: ``spheroid_mask``, ``ellipsoid_mask``, ``closing``
- ``variants``: ``prepare_sources``, ``make_variant`` (prototypes on the simulation grid)
- ``placement``: ``Canvas``, ``place_nuclei``, ``place_subcultures``
- ``optics``: ``attenuation``, ``apply_attenuation``, ``psf_weights``, ``Blur``, ``blur``,
  ``grow_labels``
- ``psf``: ``gaussian_psf``, ``psf_from_optics``, ``psfs_from_optics``, ``prepare_psf``,
  ``resample_psf``
- ``resample``: ``resample``, ``resample_axis`` (area / linear / nearest)
- ``camera``: ``Camera``, ``acquire``
- ``pipeline``: ``simulate_volume`` (the whole chain for one volume)
"""
