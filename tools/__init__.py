"""Ground-support command-line tools: the one CLI convention (``tools.cli``), atomic outputs (``tools.files``),
FITS input (``tools.fits_input``) and ``astroflight-encode`` (``tools.encode``). Never imported by ``flight/``."""
