"""Images with known shifts: toy blobs, shift operators and the triplet sampler."""
from softfact.data.blobs import BlobSource, make_blobs, shift_no_wrap, translate
from softfact.data.crops import CropBatch
from softfact.data.triplets import SCHEMES, TripletBatch, sample_shifts, sample_triplets

__all__ = ["BlobSource", "CropBatch", "SCHEMES", "TripletBatch", "make_blobs", "sample_shifts", "sample_triplets",
           "shift_no_wrap", "translate"]
