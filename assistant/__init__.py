"""Turns questions into cited answers and serves them."""
