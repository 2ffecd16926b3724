"""Evaluation: the seed's protocol (``protocol``) and shift grids with known shifts (``grid``).

Grid metrics (R^2, analogies, MIG, ...) are pure functions of a grid in ``softfact.metrics``;
``softfact.metrics.evaluate`` runs the protocol and the grid metrics together.
"""
from softfact.evaluation.grid import (ShiftGrid, differences, encode_shift_grid, flat_samples,
                                      grid_images, shift_values, split_images)
from softfact.evaluation.protocol import (MIDI_QUALITY_BAR, QUALITY_BAR, SEED_FIGURES,
                                          DiffVectors, describe_bar, diff_vector_probe,
                                          evaluate_encoder, format_table, meets_quality_bar,
                                          quality_bar, sign_probe, summarize)

__all__ = ["MIDI_QUALITY_BAR", "QUALITY_BAR", "SEED_FIGURES", "describe_bar", "quality_bar", "DiffVectors", "ShiftGrid", "diff_vector_probe",
           "differences", "encode_shift_grid", "evaluate_encoder", "flat_samples",
           "format_table", "grid_images", "meets_quality_bar", "shift_values", "sign_probe",
           "split_images", "summarize"]
