"""Integration API for the agency's one-stop system (`/api/v1`)."""
