"""AMI adapter: panoramisk (with our fixes), translation of frames into domain events."""
