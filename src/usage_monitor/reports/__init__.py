"""What people read about the past: the weekly digest, the history text/CSV, the HTML report and its SVG
chart, and the jobs that gather stored history for them.

May import `storage` and below. Never imports the run (`fleet`).
"""
