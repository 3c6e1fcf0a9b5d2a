"""llmv0 engine: a UI-free library that trains, evaluates, checkpoints and samples char LMs."""
