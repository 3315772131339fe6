"""Call records: one per caller (linkedid), queue entries, recordings, agent sessions."""
