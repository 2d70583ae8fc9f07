"""The emulator's own controls: the /_mock API and the dashboard on top of it."""
