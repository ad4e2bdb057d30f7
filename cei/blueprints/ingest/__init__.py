"""Ingestion API: JSON batches and CSV uploads of meter readings."""
