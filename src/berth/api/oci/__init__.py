"""api/oci."""
