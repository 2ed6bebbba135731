"""The Panel dashboard: one shared feed per server process (ui.feed), one layout per browser (ui.app)."""
