"""fal's storage: the upload API the clients call and the file store behind it."""
