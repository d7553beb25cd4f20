"""Protobuf modules generated from schemas/*.proto by ``python schemas/generate.py``. Do not edit."""
