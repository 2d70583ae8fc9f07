"""The PyAV probe lives in the contract toolkit now (its output checks use it)."""

from contracts.mp4probe import VideoFacts, probe

__all__ = ["VideoFacts", "probe"]
