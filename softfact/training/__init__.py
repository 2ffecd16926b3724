"""Training: the loop, checkpoints and torch.distributed glue."""
from softfact.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from softfact.training.loop import TrainingDiverged, train

__all__ = ["CheckpointError", "TrainingDiverged", "load_checkpoint", "save_checkpoint", "train"]
