"""CDK app and stack of the friend microservice."""
