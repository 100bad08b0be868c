"""A local, single-node Trino over the lake: the third engine of the dbt project.

Athena engine version 3 is Trino, so the project's Athena SQL runs for real on
this server (`server`: fetch, configure, start, stop) over the lake declared as
Hive tables the way the Glue catalog declares it (`tables`). Used by
`make trino` / `make trino-stop`, the Trino tests and `bench/models.py --target trino`.
"""
