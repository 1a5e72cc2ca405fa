"""The vocabulary every layer speaks: states, the data that crosses layers, what a provider answers.

states (job and campaign state machines) · campaigns (a campaign and its totals) · jobs (a planned
message, a claimed job, a result, a settlement) · provider (a message out, a result back, receipts
and replies in). Imports nothing of campaigner, so anything may import it.
"""
