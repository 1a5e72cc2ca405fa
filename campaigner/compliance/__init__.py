"""What the law and the carriers ask of a campaign, as data and pure rules (no I/O, no database).

windows (when a number may be messaged: the campaign's hours, the shipped table of countries
`country_windows.toml`, day-of-week and public holidays, in the number's own time zones).
"""
