"""moto's S3 for the object storage tests (see inventory_pipelines_tests/s3.py)."""

from inventory_pipelines_tests.s3 import moto_s3_endpoint, s3_data_uri

__all__ = ["moto_s3_endpoint", "s3_data_uri"]
