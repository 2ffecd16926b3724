"""softfact: soft factorization of latent spaces.

A loss that asks difference vectors z(shifted) - z(anchor) to be parallel for the same
factor and sign, anti-parallel for opposite signs and orthogonal across factors, so that
pitch transposition and time shift become separate, signed directions of any encoder.
"""
from softfact.data.blobs import BlobSource, make_blobs, shift_no_wrap, translate
from softfact.data.triplets import TripletBatch, sample_triplets
from softfact.models import ToyEncoder
from softfact.losses import (
    FactorizationLoss,
    LeJEPALoss,
    attraction_loss,
    factorization_loss,
    lejepa_loss,
    shift_cosine_targets,
    sigreg,
    sigreg_seed,
)

from softfact.run import Run

__version__ = "0.1.0"

__all__ = [
    "BlobSource", "FactorizationLoss", "LeJEPALoss", "Run", "ToyEncoder", "TripletBatch", "attraction_loss",
    "factorization_loss", "lejepa_loss", "make_blobs", "sample_triplets", "shift_cosine_targets",
    "shift_no_wrap", "sigreg", "sigreg_seed", "translate",
]
