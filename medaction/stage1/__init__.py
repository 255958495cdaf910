"""Stage 1 from raw case reports: LLM environment extraction and gold trajectories.

It sits above `policies` and `tree` (it calls a Policy and emits Trajectories), so `envs` stays the bottom layer;
the readers, leakage and overlap checks it uses are plain `envs` code.
"""
