"""Recovery commands for a deployed friend microservice."""
