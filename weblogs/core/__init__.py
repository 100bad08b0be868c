"""The pure core: the event contract, the transformation, the lake layout, errors, settings.

It imports nothing else of the project and does no I/O of its own (the lake-root
rule reads the mapping it is given), so every rule here is tested without AWS.
"""
