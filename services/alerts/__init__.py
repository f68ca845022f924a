"""Alerts: the e-mail digest and the mail transport."""
