"""The Ray 2 contract as data: JSON Schemas, strategies and checks shared by every target."""

from contracts.schemas import load_schema, schema_path

__all__ = ["load_schema", "schema_path"]
