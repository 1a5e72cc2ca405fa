"""Example recipients and message (package data) and the generator that made them."""
