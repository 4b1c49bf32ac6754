"""Full text of the records: extracted at ingest with real tools, kept in the package as a derivative."""
