"""Protobuf modules generated from schemas/*.proto by ``python tools/generate_pb.py``. Do not edit."""
