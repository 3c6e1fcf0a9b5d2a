"""``python -m tui`` starts the dashboard (what ``llmv0-tui`` runs; used by --serve)."""

from tui.dashboard.entry import tui_main

tui_main()
