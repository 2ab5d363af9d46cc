"""Package data: small per-language stop-word lists (one entry a line, '#' comments), read by quality.signals."""
