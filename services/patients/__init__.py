"""Patients: enrolment, rename, delete with undo, consent withdrawal."""
