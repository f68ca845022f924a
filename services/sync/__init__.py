"""Downloading: the sync service, its store and coverage ledger, status, scheduler, catch-up, backfill, quotas."""
