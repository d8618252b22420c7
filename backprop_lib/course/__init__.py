"""The course machinery: notebook build pipeline and command line (no lesson depends on it)."""
