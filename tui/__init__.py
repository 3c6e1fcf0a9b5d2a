"""llmv0 front ends: the `llmv0` CLI and the `llmv0-tui` dashboard."""
