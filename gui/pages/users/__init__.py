"""Keys & Users: accounts, registration keys, the audit trail."""
