"""Residual and dense networks of chapter 4 (filled by chapter 4)."""
