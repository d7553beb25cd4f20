"""Protobuf schemas (*.proto), their generator, and the JSON report schema."""
