"""Hexdump formatting: the compiled helper `_hexdump` when it was built, else the pure-Python twin."""
