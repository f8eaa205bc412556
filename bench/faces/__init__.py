"""Face checks (issue 12): the threshold curve (``threshold.py``) and the live checks under
load (``concurrent``)."""
