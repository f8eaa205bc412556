"""The clerk's board and the judge's console with many people (issue 14, performance)."""
