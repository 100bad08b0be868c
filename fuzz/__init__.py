"""Fuzz targets over the contract and the decoders (see `make fuzz`)."""
