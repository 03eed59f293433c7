"""Procedure catalogue: import of the portal's 588 commune procedures, the store, and answers."""
