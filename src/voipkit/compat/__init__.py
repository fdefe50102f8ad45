"""L4: facades shaped like other vendors' SDKs, built on ``voipkit.api`` only."""
