"""Who may do what: users, passwords, lockout, registration keys, roles (actor), idle lock, the audit trail."""
