"""Latent operations: estimate v(dy, dx), move embeddings by it, decode, and measure.

``OperationVectors`` fits v from any encoder and images; ``latent_shift`` decodes
z(x) + v(dy, dx) with any decoder; ``operation_metrics`` scores the result against the true
shifts (binary F1; keys in ``softfact.ops.metrics``). Sits above ``metrics``: it reuses the
shift grids of ``softfact.evaluation`` and is called by ``softfact.Run.evaluate``.
"""
from softfact.ops.apply import (OperationExamples, OpsError, decode, default_example_shifts,
                                latent_shift, operation_examples)
from softfact.ops.metrics import (OperationResult, auto_images, best_threshold, binary_f1,
                                  default_method, evaluate_operations, latent_error,
                                  operation_metrics)
from softfact.ops.vectors import OperationVectors

__all__ = ["OperationExamples", "OperationResult", "OpsError", "OperationVectors", "auto_images",
           "best_threshold", "binary_f1", "decode", "default_example_shifts", "default_method",
           "evaluate_operations",
           "latent_error", "latent_shift", "operation_examples", "operation_metrics"]
