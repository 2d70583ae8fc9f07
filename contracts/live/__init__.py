"""Talking to live fal: recording real answers, and spec drift against fal's published
documents and the endpoint types it ships."""
