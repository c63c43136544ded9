"""Reporting: HTML reports rendered from the warehouse, and the tables the CLI prints in the terminal."""
