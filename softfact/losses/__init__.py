"""Losses: pure functions on embeddings (any encoder) plus thin modules holding hyperparameters."""
from softfact.losses.factorization import (
    FactorizationLoss, difference_cosine, factorization_loss, pairwise_factorization_loss, shift_cosine_targets)
from softfact.losses.factorization import MultiScaleFactorizationLoss, multiscale_factorization_loss
from softfact.losses.arithmetic import (
    ArithmeticLoss, LinearShiftLoss, MagnitudeLoss, SharedDirectionLoss, linear_shift_loss, magnitude_loss,
    shared_direction_loss)
from softfact.losses.arithmetic import ShiftConsistencyLoss, shift_consistency_loss, shift_means
from softfact.losses.operation import operation_loss, operation_queries
from softfact.losses.position import crop_major_position_loss, position_loss
from softfact.losses.lejepa import LeJEPALoss, attraction_loss, lejepa_loss
from softfact.losses.sigreg import SIGREG_VARIANTS, sigreg, sigreg_seed

__all__ = ["FactorizationLoss", "LeJEPALoss", "SIGREG_VARIANTS", "attraction_loss",
           "difference_cosine", "factorization_loss", "pairwise_factorization_loss", "lejepa_loss", "shift_cosine_targets",
           "sigreg", "sigreg_seed",
           "ArithmeticLoss", "LinearShiftLoss", "MagnitudeLoss", "SharedDirectionLoss", "linear_shift_loss",
           "magnitude_loss", "shared_direction_loss"]
__all__ += ["operation_loss", "operation_queries", "ShiftConsistencyLoss", "shift_consistency_loss", "shift_means"]
__all__ += ["crop_major_position_loss", "position_loss"]
__all__ += ["MultiScaleFactorizationLoss", "multiscale_factorization_loss"]  # token / multi-scale form
