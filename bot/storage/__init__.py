"""Where parents' sessions live: in memory for everyone, in SQLite for those who said yes."""
