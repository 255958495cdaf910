"""medaction: distributed multi-turn active-diagnosis data (MedAction) on Ray.

Layers (lower never imports higher): envs -> policies -> tree -> scoring -> actors/engine -> trainers/eval.
Ray is imported only in medaction.actors and medaction.engine.
"""

__version__ = "0.1.0"
