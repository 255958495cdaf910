"""Ray actors wrapping the pure layers: OracleActor, PolicyActor, ScorerActor, ShardWriter; plus the router."""
