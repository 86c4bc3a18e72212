"""Complaints and reports (投诉举报) from the 12345 hotline and other channels."""
