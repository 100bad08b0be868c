"""weblogs: the library behind the pipeline, in layers (docs/contributing.md).

`core` (pure rules) < `adapters` (AWS and local I/O) < the deployable units
(`ingestion`, `lambdas`) and the dev tools (`simulator`, `analytics`) < `cli`.
"""
