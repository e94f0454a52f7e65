"""Operator commands that talk to Temporal: `supportflow case …` and `supportflow policy apply`."""
