"""Delivery pipeline: webhook ingest -> stored event -> worker (turn + outbox) -> dispatcher -> platform."""
