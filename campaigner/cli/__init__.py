"""The command line: the only layer that prints.

main (the click group and the console script's entry point) · context (`AppContext`, which every
command receives) · commands/ (one module per group of commands) · foreground (one campaign run
with a progress line) · progress · preview_table (the preview as tables) · source_options and
regions (options shared by commands) · demo (`campaigner demo`, end to end on this machine).
"""
