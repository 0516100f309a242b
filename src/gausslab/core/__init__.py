"""The foundation every layer uses: errors, atomic file writes, the config machinery, memory and disk checks."""
