"""Serving: uvicorn listeners (plain and TLS), the background thread for tests, the CONNECT
proxy, the browser proxy and routing helpers."""
