"""Loading the store's files, and who has what: histories, latest events, snapshots of the log."""
