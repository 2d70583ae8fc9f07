"""The pytest integration: the ``ray2_mock`` fixture, the suite's options and its tests."""
