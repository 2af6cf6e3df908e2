"""Integration tests of the friend microservice and the tooling that runs them."""
