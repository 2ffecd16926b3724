"""The bottom layer: small helpers every other layer may use (files, geometry, run names).

Nothing here imports any other part of softfact.
"""
