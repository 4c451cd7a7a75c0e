"""Identity: resident accounts and My Number card style certificates (JPKI-like signing and login)."""
