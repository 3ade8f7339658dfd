"""Layer 5, observe: pure decoding of what a run produced (pcaps, TCP timeline, syscall traces,
metrics, statistics). Nothing here runs or draws anything."""
