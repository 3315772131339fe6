"""Tamper-evident records: the hash-chained audit log, recording hashes, retention with legal holds, backups."""
