"""The Sync page, its coverage strip and the Backfill dialog."""
