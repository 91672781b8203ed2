"""contrastgen: contrastive paraphrases and hard negatives for UAV navigation instructions."""

__version__ = "0.1.0"
