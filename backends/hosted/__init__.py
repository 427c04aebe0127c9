"""Pieces every hosted provider shares: following a job, errors, redaction, notices, archives."""
