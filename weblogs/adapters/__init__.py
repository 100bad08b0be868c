"""Adapters over the core: the local and S3 lake, the stream, SNS, the Glue catalog, boto3."""
