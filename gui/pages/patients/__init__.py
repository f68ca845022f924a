"""The Patients page, the patient detail, and its dialogs (add/rename, connect, export, withdraw)."""
