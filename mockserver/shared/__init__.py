"""State shared by replicas on Redis (``serve --store redis://HOST:PORT/DB``): N processes on
any hosts act as one emulator. Imported only when a Redis store is chosen."""
