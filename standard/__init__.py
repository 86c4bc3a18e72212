"""National code standards: checksums and format checks for USCC, ID numbers and other codes."""
