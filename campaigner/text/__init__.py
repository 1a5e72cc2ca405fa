"""The message text: GSM-7 / UCS-2 segments, smart encoding, and personalisation templates.

Pure functions of strings; nothing here knows of recipients, providers or the database.
"""
