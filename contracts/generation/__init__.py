"""Generating inputs: Hypothesis strategies from the JSON Schemas and the settings profiles."""
