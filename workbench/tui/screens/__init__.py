"""One module per section of the app, plus the screens they push (editor, diff, case)."""
