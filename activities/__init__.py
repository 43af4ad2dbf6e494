"""Activities (memory) and worker-side model providers: everything that does I/O."""
