"""Jianguan Gateway: the web application, its settings and the command line."""
