"""LocalStack plugins of the friend project (installed into LocalStack's own environment)."""
