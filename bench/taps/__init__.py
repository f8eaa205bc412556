"""CPU cost of media taps (decode on demand)."""
