"""Who is asking: users, password hashes and credential checks."""
