"""`make reliability`: fault-injection scenarios on the local stage, each ending in one check of
the transcripts (lost, duplicated, reordered messages per chat)."""
