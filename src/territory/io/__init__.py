"""File readers and writers, validation reports, and the real US data readers."""
