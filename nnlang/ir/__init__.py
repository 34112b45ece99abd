"""IR: the typed graph, lowering from syntax, compile-time evaluation."""
