"""Data of the cases demo (read by ``machi.cases.demo``); a package so the JSON is installed."""
