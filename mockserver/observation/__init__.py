"""What the emulator saw: the request journal, metrics, and key masking for both."""
