"""What comes back from the provider: delivery receipts and replies (STOP, START), applied once.

receipts (a job moves submitted → delivered | undelivered; early receipts are parked) · replies (an
opt-out reply adds its number to the suppression list, which the next claim honours) · stopwords
(which texts are an opt-out or an opt-in). The HTTP routes that feed them live in `app/`.
"""
