"""What comes back from the provider: delivery receipts and replies (STOP, START), applied once.

receipts (a job moves submitted → delivered | undelivered, only for the webhook's account; early
receipts are parked, within caps) · replies (an opt-out reply adds its number to the suppression
list, which the next claim honours; every reply kept once, STOP/START in the order sent) · numbers
(a reply's sender read by the loader's parser) · policy (the account, date window and caps of one
webhook app) · stopwords (which texts are an opt-out or an opt-in). The HTTP routes that feed them
live in `app/`.
"""
