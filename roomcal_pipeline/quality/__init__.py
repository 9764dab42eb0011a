"""Data quality: Great Expectations 1.x suites that run inside the pipeline."""
